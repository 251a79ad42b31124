import type { z } from "zod";
import type { invoice, invoiceLine, invoiceRun, invoiceTrace } from "../messages/invoice.ts";

/** One invoice line (see `invoiceLine`: the schema is the one definition). */
export type InvoiceLine = z.output<typeof invoiceLine>;

/** The audit trail from usage events to money: the notes that billed them and the vouchers that paid. */
export type InvoiceTrace = z.output<typeof invoiceTrace>;

/** How the job ran, as its provider reported it: what ran, where, for how long, and why it ended. */
export type InvoiceRun = z.output<typeof invoiceRun>;

/** A job's invoice, built by `buildInvoice` from the signed notes, the vouchers and the rate card. */
export type Invoice = z.output<typeof invoice>;
