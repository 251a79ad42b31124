// `provider status|redeem` and `market offers|quote` through the real executable against a real
// provider node (two fake H100s) on a real chain: sentences and tables for people, JSON with --json.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { providerStatus } from "../../../marketplace/messages/operatorApi.ts";
import { type Market, startMarket } from "../../integration/support/market.ts";
import { startTestProvider, type TestProvider } from "../../integration/support/nodes.ts";
import { type Run, runGridspot } from "../../support/runGridspot.ts";

const TOKEN = "an admin token for the test";

let market: Market;
let provider: TestProvider;

beforeAll(async () => {
  market = await startMarket();
  provider = await startTestProvider(market, { env: { GRIDSPOT_ADMIN_TOKEN: TOKEN } });
}, 90_000);

afterAll(async () => {
  await provider?.stop();
  await market?.stop();
});

function gridspot(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return runGridspot(args, {
    cwd: market.work,
    timeoutMs: 60_000,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: market.work,
      GRIDSPOT_RPC_URL: market.rpcUrl,
      GRIDSPOT_DEPLOYMENTS_DIR: market.deploymentsDir,
      GRIDSPOT_LOG: "silent",
      ...env,
    },
  });
}

const apiUrl = () => provider.api("").replace(/\/$/, "");

describe.concurrent("provider and market commands against a running node", () => {
  it("provider status prints sentences, not JSON; --json the API's document", async () => {
    const text = await gridspot(["provider", "status", "--api", apiUrl()]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`Provider   ${provider.address}`);
    expect(text.stdout).toMatch(/^Offers {5}2 × nvidia-h100-80gb, 2 cores, 4096 MiB, jobs up to 10 min$/m);
    expect(text.stdout).toMatch(/^Price {6}[\d.]+ GRID\/GPU-h \(nvidia-h100-80gb\)$/m);
    expect(text.stdout).toContain("Settlement every voucher redeemed");
    expect(text.stdout).not.toContain("{");
    const json = await gridspot(["provider", "status", "--api", apiUrl(), "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ provider: provider.address });
    // The document is the node's answer as the schema both sides use reads it: amounts as decimal
    // strings, and it parses back with that schema.
    const doc = JSON.parse(json.stdout) as {
      rates: { price: unknown }[];
      settlement: { pendingValue: unknown };
    };
    expect(typeof doc.settlement.pendingValue).toBe("string");
    expect(doc.rates.every((r) => typeof r.price === "string")).toBe(true);
    const parsed = providerStatus.parse(doc);
    expect(parsed.settlement.vouchersPending).toBe(0);
    expect(parsed.resources?.gpus.map((g) => g.class)).toEqual(["nvidia-h100-80gb", "nvidia-h100-80gb"]);
  });

  it("provider status and redeem refuse an answer that is not the node's schema, in words", async () => {
    const answers: Record<string, [number, unknown]> = {
      "/v1/status": [200, { peerId: 7, rates: "cheap" }],
      "/v1/redeem": [503, { error: "unavailable", message: "the chain is away" }],
    };
    const server = createServer((request, response) => {
      const [status, body] = answers[request.url ?? ""] ?? [404, {}];
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const status = await gridspot(["provider", "status", "--api", api]);
      expect(status.code).toBe(1);
      expect(status.stderr).toContain(
        "The provider's operator API answered /v1/status with something unexpected.",
      );
      expect(status.stderr).toMatch(/peerId: Expected string, received number/);
      const redeem = await gridspot(["provider", "redeem", "--api", api], { GRIDSPOT_ADMIN_TOKEN: TOKEN });
      expect(redeem.code).toBe(1);
      expect(redeem.stderr).toContain("The provider's operator API answered 503: the chain is away");
    } finally {
      server.close();
    }
  });

  it("provider redeem says what it did, and asks for the admin token in words", async () => {
    const run = await gridspot(["provider", "redeem", "--api", apiUrl()], { GRIDSPOT_ADMIN_TOKEN: TOKEN });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      "Nothing to redeem: every voucher is redeemed or waiting for its confirmation.\n",
    );
    const refused = await gridspot(["provider", "redeem", "--api", apiUrl()]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("set GRIDSPOT_ADMIN_TOKEN");
  });

  it("provider status names the API it cannot reach", async () => {
    const run = await gridspot(["provider", "status", "--api", "http://127.0.0.1:9"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Cannot reach the provider's operator API at http://127.0.0.1:9.");
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it("market offers lists the provider and says how many peers it reached", async () => {
    const bootstrap = provider.info.multiaddrs[0] ?? "";
    const run = await gridspot([
      "market",
      "offers",
      "--local-network",
      "--bootstrap",
      bootstrap,
      "--wait",
      "10",
      "--min-offers",
      "1",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^PROVIDER +CLASS.* BILLED +MINIMUM +SEEN$/m);
    // Each offer says how it bills: its granularity (this node's is the default, per ms).
    expect(run.stdout).toMatch(/ per ms +- +\d+ s ago$/m);
    expect(run.stdout).toContain(provider.address);
    expect(run.stdout).toMatch(/1 offer\(s\) from 1 peer\(s\) reached/);
    expect(run.stderr).toMatch(/gridspot: 1 offer\(s\) from 1 peer\(s\) reached in /);
    const quote = await gridspot([
      "market",
      "quote",
      "--json",
      "--local-network",
      "--bootstrap",
      bootstrap,
      "--wait",
      "10",
      "--min-offers",
      "1",
      "--gpus",
      "1",
      "--max-duration",
      "600",
      "--expected-duration",
      "1m",
    ]);
    expect(quote.code).toBe(0);
    const doc = JSON.parse(quote.stdout) as {
      peers: number;
      expectedDurationS: number;
      expectedCost: string;
      cheapest: { maxDurationCost: string };
    };
    expect(doc).toMatchObject({ peers: 1, expectedDurationS: 60 });
    // A tenth of the maximum duration costs a tenth (to the base unit: each meter rounds down).
    const gap = BigInt(doc.cheapest.maxDurationCost) - BigInt(doc.expectedCost) * 10n;
    expect(gap >= 0n && gap < 100n).toBe(true);
  });
});
