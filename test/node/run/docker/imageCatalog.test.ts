import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createImageCatalog, type ImageCatalog } from "../../../../node/run/docker/createImageCatalog.ts";
import { ensureBusyboxImage } from "../../../../scripts/lib/localImages.ts";
import { dockerMissing, skipWhen } from "../../../support/requires.ts";
import { dockerClient, IMAGE } from "./helpers.ts";

// The bid engine's view of the host's images: an order is declined when the node would refuse its
// image at start, without a call to the Engine per order.
skipWhen(dockerMissing);

let imageId = "";
let catalog: ImageCatalog | undefined;
beforeAll(async () => {
  if (dockerMissing !== undefined) return;
  imageId = await ensureBusyboxImage(dockerClient(), IMAGE);
});
afterEach(() => catalog?.stop());

describe("createImageCatalog", () => {
  it("allows an image on the host by tag or ID, and refuses one the host lacks when nothing is pulled", async () => {
    catalog = await createImageCatalog(dockerClient(), { pull: "never" });
    expect(catalog.refuse(IMAGE)).toBeUndefined();
    expect(catalog.refuse(imageId)).toBeUndefined();
    expect(catalog.refuse("gridspot/busybox:other")).toMatch(/not present/);
    expect(catalog.refuse("ghcr.io/acme/trainer:1")).toMatch(/not present/);
  });

  it("applies the operator's policy: deny, allow and size", async () => {
    catalog = await createImageCatalog(dockerClient(), { pull: "never", deny: ["gridspot/*"] });
    expect(catalog.refuse(IMAGE)).toMatch(/gridspot\/busybox/);
    catalog.stop();
    catalog = await createImageCatalog(dockerClient(), { pull: "never", allow: ["ghcr.io/acme/*"] });
    expect(catalog.refuse(IMAGE)).toBeDefined();
    catalog.stop();
    catalog = await createImageCatalog(dockerClient(), { pull: "never", digests: [imageId] });
    expect(catalog.refuse(IMAGE)).toBeUndefined();
    catalog.stop();
    catalog = await createImageCatalog(dockerClient(), { pull: "never", maxImageBytes: 1024 });
    expect(catalog.refuse(IMAGE)).toMatch(/size|large|bytes/i);
  });

  it("with pull missing, lets an allowed absent image through to the runtime (which pulls it)", async () => {
    catalog = await createImageCatalog(dockerClient(), { pull: "missing", allow: ["ghcr.io/acme/*"] });
    expect(catalog.refuse("ghcr.io/acme/trainer:1")).toBeUndefined();
    expect(catalog.refuse("docker.io/evil/miner:1")).toBeDefined();
  });
});
