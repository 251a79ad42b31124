import { describe, expect, it } from "vitest";
import { pickEndpointRuntime } from "../../../node/endpoint/pickEndpointRuntime.ts";
import type { JobRuntimes } from "../../../node/run/createJobRuntimes.ts";
import type { JobRuntime } from "../../../node/run/runtime.ts";

const docker = { kind: "docker" } as JobRuntime;
const processRuntime = { kind: "process" } as JobRuntime;

/** A node's `pick` as createJobRuntimes makes it, for Docker and/or the process runtime. */
function node(o: { docker: boolean; process: boolean; defaultImage?: string }): Pick<JobRuntimes, "pick"> {
  return {
    pick: ({ image }) => {
      if (image !== undefined)
        return o.docker ? { runtime: docker, image } : "this provider runs no containers";
      if (o.process) return { runtime: processRuntime };
      if (o.docker && o.defaultImage !== undefined) return { runtime: docker, image: o.defaultImage };
      return "this provider runs jobs only in container images: give --image";
    },
  };
}
const off = { processReplicas: false };
const on = { processReplicas: true };

describe("pickEndpointRuntime", () => {
  it("runs an image's replicas in Docker, the image the runtime picked", () => {
    const both = node({ docker: true, process: true });
    expect(pickEndpointRuntime(both, { image: "llm:1", gpusPerReplica: 1 }, off)).toEqual({
      kind: "docker",
      image: "llm:1",
    });
    const withDefault = node({ docker: true, process: false, defaultImage: "base:1" });
    expect(pickEndpointRuntime(withDefault, { gpusPerReplica: 0 }, off)).toEqual({
      kind: "docker",
      image: "base:1",
    });
    expect(
      pickEndpointRuntime(node({ docker: false, process: true }), { image: "llm:1", gpusPerReplica: 0 }, on),
    ).toBe("this provider runs no containers");
  });

  it("runs a plain command's replicas as processes only with endpoints.processReplicas", () => {
    const processOnly = node({ docker: false, process: true });
    expect(pickEndpointRuntime(processOnly, { gpusPerReplica: 0 }, off)).toMatch(
      /only from container images/,
    );
    expect(pickEndpointRuntime(processOnly, { gpusPerReplica: 0 }, on)).toEqual({ kind: "process" });
    // No GPU share is enforced on a process (development only): it may still serve a GPU order.
    expect(pickEndpointRuntime(processOnly, { gpusPerReplica: 1 }, on)).toEqual({ kind: "process" });
    // A Docker-only node without a default image still may, when the operator allows processes.
    expect(pickEndpointRuntime(node({ docker: true, process: false }), { gpusPerReplica: 0 }, on)).toEqual({
      kind: "process",
    });
  });
});
