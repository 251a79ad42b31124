import type { Invoice } from "./types.ts";

/** The CSV header: one row per invoice line follows, amounts and quantities in base units. */
export const INVOICE_CSV_HEADER = [
  "meter",
  "tier",
  "up_to",
  "quantity",
  "billed_quantity",
  "price",
  "per",
  "amount",
  "from_note",
  "to_note",
] as const;

/**
 * The invoice's lines as CSV (RFC 4180, `\n` line ends, no trailing newline): a header row, then one
 * row per line with integers in base units, empty cells for nulls. The amounts sum to the total.
 * `from_note`/`to_note` name a spot line's price stretch (empty for a fixed agreement).
 */
export function invoiceToCsv(invoice: Invoice): string {
  const rows = invoice.lines.map((l) =>
    [
      l.meter,
      l.tier,
      l.upTo,
      l.quantity,
      l.billedQuantity,
      l.price,
      l.per,
      l.amount,
      l.stretch?.fromSeq ?? null,
      l.stretch?.toSeq ?? null,
    ]
      .map(cell)
      .join(","),
  );
  return [INVOICE_CSV_HEADER.join(","), ...rows].join("\n");
}

function cell(value: string | number | bigint | null): string {
  if (value === null) return "";
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}
