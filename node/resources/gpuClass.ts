import { GPU_NAME_NOISE } from "./constants.ts";
import { ResourceDetectionError } from "./errors.ts";

/**
 * The GPU class `vendor-model-vram` of DESIGN.md §4 from an NVIDIA product name and its memory:
 * "NVIDIA H100 80GB HBM3", 81559 MiB → `nvidia-h100-80gb`; "NVIDIA A100-SXM4-40GB", 40960 →
 * `nvidia-a100-40gb`; "NVIDIA GeForce RTX 4090", 24564 → `nvidia-rtx4090-24gb`.
 *
 * The model is the name lowercased, split on spaces and hyphens, without brand words, form factors,
 * memory types and sizes (see GPU_NAME_NOISE), the rest joined with nothing between. The memory is
 * the reported MiB rounded to whole GiB, because drivers report a little less than the label.
 * @throws ResourceDetectionError when no model word is left or the memory is not a positive integer.
 */
export function gpuClass(name: string, vramMiB: number): string {
  const words = name
    .toLowerCase()
    .split(/[\s-]+/)
    .map((w) => w.replace(/[^a-z0-9]/g, ""))
    .filter((w) => w !== "" && !GPU_NAME_NOISE.has(w) && !/^\d+gb$/.test(w));
  if (words.length === 0) {
    throw new ResourceDetectionError(`cannot tell the GPU model from the name "${name}"`, { name });
  }
  if (!Number.isSafeInteger(vramMiB) || vramMiB <= 0) {
    throw new ResourceDetectionError(`GPU "${name}" reports an invalid memory size ${vramMiB} MiB`, {
      name,
      vramMiB,
    });
  }
  const vramGiB = Math.floor((vramMiB + 512) / 1024);
  return `nvidia-${words.join("")}-${vramGiB}gb`;
}
