import { beforeEach, describe, expect, it, vi } from "vitest";
import { AgentAnswerError, agentRequest } from "../../../marketplace/agent/agentClient.ts";
import type { AgentEndpointAnswer } from "../../../marketplace/agent/endpointRequests.ts";
import {
  endpointDelete,
  endpointDeploy,
  endpointList,
  endpointStatus,
} from "../../../marketplace/cli/commands/endpoint.ts";
import type { GlobalOptions } from "../../../marketplace/cli/globalOptions.ts";
import { UsageError } from "../../../marketplace/errors/usage.ts";

// The agent's socket is replaced by a stub: these tests are about what the commands ask and print.
vi.mock("../../../marketplace/agent/agentClient.ts", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../../../marketplace/agent/agentClient.ts")>()),
  agentRequest: vi.fn(),
}));
const request = vi.mocked(agentRequest);

const GRID = 10n ** 18n;
const options: GlobalOptions = {
  json: false,
  rpcUrl: "http://127.0.0.1:8545",
  dataDir: "/nonexistent",
  deploymentsDir: undefined,
  bootstrap: [],
  localNetwork: false,
};

const view: AgentEndpointAnswer = {
  endpointId: "ep-abc",
  status: "serving",
  url: "http://127.0.0.1:8788/e/ep-abc",
  image: "gridspot/model-server:local",
  minReplicas: 0,
  maxReplicas: 2,
  jobs: [
    {
      jobId: "job-1",
      provider: "0x1111111111111111111111111111111111111111",
      providerPeerId: "12D3KooWa",
      status: "running",
      reason: "",
      channelId: 1n,
      budget: 25n * GRID,
      amount: GRID / 4n,
      billed: { gpu_ms: 1500n, requests: 12n, tokens: 300n },
      counted: { requests: 12n, tokens: 300n, busyMs: 1400n },
      routed: true,
    },
    {
      jobId: "job-2",
      provider: "0x2222222222222222222222222222222222222222",
      providerPeerId: "12D3KooWb",
      status: "running",
      reason: "tokens billed 900 > counted 300",
      channelId: 2n,
      budget: 25n * GRID,
      amount: GRID / 2n,
      billed: { gpu_ms: 900n, requests: 3n, tokens: 900n },
      counted: { requests: 3n, tokens: 300n, busyMs: 800n },
      routed: false,
    },
  ],
  gateway: { requests: 15n, tokens: 600n, busyMs: 2200n, inFlight: 1 },
  closed: null,
};

// In braces: a function returned from beforeEach would run as its teardown.
beforeEach(() => {
  request.mockReset();
});

describe("gridspot endpoint (against a stubbed agent)", () => {
  it("deploy posts the parsed request and prints the id, the URL, the providers and the budget", async () => {
    request.mockResolvedValue(view);
    const result = await endpointDeploy(
      options,
      { image: "gridspot/model-server:local", maxPrice1kRequests: "0.01", budget: "50", providers: "2" },
      { operands: [], command: ["--port", "8000"] },
    );
    const call = request.mock.calls[0]?.[1];
    expect(call).toMatchObject({ method: "POST", path: "/v1/endpoints" });
    // Amounts travel as decimal strings, like `job submit --detach`'s.
    expect(call?.body).toMatchObject({ budget: (50n * GRID).toString(), providers: 2 });
    expect(result.json).toBe(view);
    expect(result.text).toContain("Endpoint ep-abc serving at http://127.0.0.1:8788/e/ep-abc/");
    expect(result.text).toContain("budget 50 GRID in all");
    expect(result.text).toContain(
      "provider 0x1111111111111111111111111111111111111111: job job-1, budget 25 GRID",
    );
  });

  it("status shows per job the amount signed, billed vs counted, and why a job is not routed", async () => {
    request.mockResolvedValue(view);
    const result = await endpointStatus(options, { endpointId: "ep-abc" });
    expect(request.mock.calls[0]?.[1]).toMatchObject({ method: "GET", path: "/v1/endpoints/ep-abc" });
    expect(result.text).toContain("Gateway  counted 15 request(s), 600 token(s), 2.2 s busy; 1 in flight");
    expect(result.text).toContain("Signed   0.75 GRID of 50 GRID");
    expect(result.text).toContain("signed 0.25 GRID of 25 GRID, routed");
    expect(result.text).toContain("requests 12 / 12, tokens 300 / 300, busy 1.5 s GPU / 1.4 s");
    expect(result.text).toContain("not routed (tokens billed 900 > counted 300)");
  });

  it("status of an unknown endpoint is a usage error in words", async () => {
    request.mockRejectedValue(
      new AgentAnswerError("not-found", "no endpoint ep-nope was deployed from this data dir"),
    );
    const failed = await endpointStatus(options, { endpointId: "ep-nope" }).catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(UsageError);
    expect((failed as UsageError).shortMessage).toBe("no endpoint ep-nope was deployed from this data dir");
  });

  it("list prints one line per endpoint", async () => {
    request.mockResolvedValue({ endpoints: [view] });
    const result = await endpointList(options);
    const lines = result.text.split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      /^ep-abc\s+serving\s+1\/2 routed\s+15\s+600\s+0\.75 GRID\s+http:\/\/127\.0\.0\.1:8788\/e\/ep-abc\/$/,
    );
  });

  it("delete sends DELETE and says how many providers were told to stop", async () => {
    request.mockResolvedValue({ deleted: true, jobs: 2 });
    const result = await endpointDelete(options, { endpointId: "ep-abc" });
    expect(request.mock.calls[0]?.[1]).toMatchObject({ method: "DELETE", path: "/v1/endpoints/ep-abc" });
    expect(result.json).toEqual({ endpointId: "ep-abc", deleted: true, jobs: 2 });
    expect(result.text).toMatch(/Endpoint ep-abc deleted: 2 provider\(s\) told to stop/);
  });
});
