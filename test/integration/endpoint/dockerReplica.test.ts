import { connect } from "node:net";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanupReplicaOrphans } from "../../../node/endpoint/docker/cleanupReplicaOrphans.ts";
import { createDockerReplicaLauncher } from "../../../node/endpoint/docker/createDockerReplicaLauncher.ts";
import { ensureModelServerImage } from "../../../scripts/lib/ensureModelServerImage.ts";
import { DOCKER_SOCKET, dockerMissing, skipWhen } from "../../support/requires.ts";
import { type EndpointRig, startEndpointRig, waitFor } from "./endpointRig.ts";
import { complete } from "./httpClient.ts";

skipWhen(dockerMissing);

const IMAGE = "gridspot/model-server:local";
const NODE_LABEL = `endpoint-test-${process.pid}`;
let docker: Docker;
let rig: EndpointRig;

/** Runs node code in a throwaway container of the model-server image; returns what it printed. */
async function runInContainer(network: string, code: string): Promise<string> {
  const container = await docker.createContainer({
    Image: IMAGE,
    Entrypoint: ["/usr/local/bin/node", "-e", code],
    Cmd: [],
    User: "65534:65534",
    Tty: true, // raw logs, without the stream headers
    HostConfig: { NetworkMode: network, AutoRemove: false },
    Labels: { "gridspot.node": NODE_LABEL },
  });
  try {
    await container.start();
    await container.wait();
    const logs = await container.logs({ stdout: true, stderr: true });
    return logs.toString("utf8").trim();
  } finally {
    await container.remove({ force: true }).catch(() => {});
  }
}

/** Node code that tries a TCP connection and prints `connected` or the error code. */
const tryConnect = (host: string, port: number) =>
  `const s=require("net").connect(${port},${JSON.stringify(host)});s.setTimeout(1500,()=>{console.log("ETIMEDOUT");process.exit(0)});s.on("connect",()=>{console.log("connected");process.exit(0)});s.on("error",e=>{console.log(e.code);process.exit(0)})`;

beforeAll(async () => {
  if (dockerMissing !== undefined) return;
  docker = new Docker({ socketPath: DOCKER_SOCKET });
  await ensureModelServerImage(docker, IMAGE);
  const launcher = createDockerReplicaLauncher(
    { docker },
    { endpointId: "ep-docker", nodeLabel: NODE_LABEL, image: IMAGE, memMiB: 256, cpuCores: 1 },
  );
  rig = await startEndpointRig({ endpointId: "ep-docker", launcher, replicas: { min: 1, max: 1 } });
  await waitFor(
    () => rig.replicas.status().replicas.some((r) => r.state === "ready"),
    30_000,
    "a ready container replica",
  );
}, 120_000);

afterAll(async () => {
  await rig?.stop();
  if (docker === undefined) return;
  const left = await docker.listContainers({
    all: true,
    filters: { label: [`gridspot.node=${NODE_LABEL}`] },
  });
  for (const c of left)
    await docker
      .getContainer(c.Id)
      .remove({ force: true })
      .catch(() => {});
});

describe("a replica as a Docker container", () => {
  it("serves through the proxy, on a network of its own with no port on the host", async () => {
    const answer = await complete(rig.base, { sleep_ms: 10, tokens: 4 });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body).usage.total_tokens).toBe(4);

    const [replica] = rig.replicas.status().replicas;
    const containers = await docker.listContainers({
      filters: { label: [`gridspot.replica=${replica?.id}`] },
    });
    expect(containers).toHaveLength(1);
    const info = await docker.getContainer(containers[0]?.Id as string).inspect();
    // Nothing published, not even the port the image exposes.
    expect(info.HostConfig.PortBindings ?? {}).toEqual({});
    for (const bindings of Object.values(info.NetworkSettings.Ports ?? {}))
      expect(bindings ?? []).toEqual([]);
    // Locked down like a job.
    expect(info.HostConfig.ReadonlyRootfs).toBe(true);
    expect(info.HostConfig.CapDrop).toEqual(["ALL"]);
    expect(info.Config.User).toBe("65534:65534");
    // Alone on an internal network of its own.
    const networks = Object.keys(info.NetworkSettings.Networks);
    expect(networks).toEqual([`gridspot-replica-${replica?.id}`]);
    const network = await docker.getNetwork(networks[0] as string).inspect();
    expect(network.Internal).toBe(true);
    expect(Object.keys(network.Containers ?? {})).toEqual([info.Id]);

    // Not on the host's loopback: the port exists only inside the container's network.
    const loopback = await new Promise<string>((resolve) => {
      const socket = connect(8000, "127.0.0.1");
      socket.on("connect", () => {
        socket.destroy();
        resolve("connected");
      });
      socket.on("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    // (Should something else of this host own 127.0.0.1:8000, it must not be the replica.)
    if (loopback === "connected") {
      const other = await fetch("http://127.0.0.1:8000/health").catch(() => undefined);
      expect(other?.headers.get("x-replica") ?? "").not.toBe(answer.headers["x-replica"]);
    } else {
      expect(loopback).toBe("ECONNREFUSED");
    }

    // Another container (on Docker's default bridge) cannot reach it; the probe itself works (a
    // container put on the replica's own network, as only the test can, connects).
    const address = replica?.address?.host as string;
    const ownNetwork = networks[0] as string;
    expect(await runInContainer(ownNetwork, tryConnect(address, 8000))).toBe("connected");
    expect(await runInContainer("bridge", tryConnect(address, 8000))).toMatch(
      /^(ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ECONNREFUSED)$/,
    );
    // And from its own network nothing routes out.
    expect(await runInContainer(ownNetwork, tryConnect("1.1.1.1", 53))).toMatch(
      /^(ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/,
    );
  }, 60_000);

  it("removes the container and its network when the replica stops", async () => {
    const id = rig.replicas.status().replicas[0]?.id as string;
    await rig.replicas.stop();
    const left = await docker.listContainers({ all: true, filters: { label: [`gridspot.replica=${id}`] } });
    expect(left).toEqual([]);
    const networks = await docker.listNetworks({ filters: { label: [`gridspot.replica=${id}`] } });
    expect(networks).toEqual([]);
  }, 60_000);

  it("finds and removes what a crashed node left: replica containers and their networks", async () => {
    const launcher = createDockerReplicaLauncher(
      { docker },
      { endpointId: "ep-orphan", nodeLabel: NODE_LABEL, image: IMAGE, memMiB: 128 },
    );
    // Started and never stopped, as a node that died would leave it.
    const orphan = await launcher.start({ replicaId: "ep-orphan-r1", signal: AbortSignal.timeout(30_000) });
    const kept = await launcher.start({ replicaId: "ep-orphan-r2", signal: AbortSignal.timeout(30_000) });
    expect(orphan.address.host).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(await cleanupReplicaOrphans(docker, NODE_LABEL, new Set(["ep-orphan-r2"]))).toBe(1);
    const label = (id: string) => ({ label: [`gridspot.replica=${id}`] });
    expect(await docker.listContainers({ all: true, filters: label("ep-orphan-r1") })).toEqual([]);
    expect(await docker.listNetworks({ filters: label("ep-orphan-r1") })).toEqual([]);
    expect(await docker.listContainers({ all: true, filters: label("ep-orphan-r2") })).toHaveLength(1);
    await kept.stop();
    expect(await docker.listNetworks({ filters: label("ep-orphan-r2") })).toEqual([]);
  }, 60_000);
});
