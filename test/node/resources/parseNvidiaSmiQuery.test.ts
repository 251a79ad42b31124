import { describe, expect, it } from "vitest";
import { parseNvidiaSmiQuery } from "../../../node/resources/parseNvidiaSmiQuery.ts";

describe("parseNvidiaSmiQuery", () => {
  it("parses one GPU per line, ignoring blank lines and CRLF", () => {
    const out = "0, GPU-2f8a5c3e-7b1d-4e9a-a6c2-91d3e5f70b14, NVIDIA H100 80GB HBM3, 81559, 550.54.15\r\n\n";
    expect(parseNvidiaSmiQuery(out)).toEqual([
      {
        index: 0,
        uuid: "GPU-2f8a5c3e-7b1d-4e9a-a6c2-91d3e5f70b14",
        name: "NVIDIA H100 80GB HBM3",
        class: "nvidia-h100-80gb",
        vramMiB: 81559,
        driverVersion: "550.54.15",
      },
    ]);
    expect(parseNvidiaSmiQuery("")).toEqual([]);
  });

  it.each([
    ["0, GPU-2f8a, NVIDIA H100 80GB HBM3, [N/A], 550.54.15", /memory.total is not a number/],
    ["0, GPU-2f8a, NVIDIA H100 80GB HBM3, 81559", /expected 5 comma-separated fields, got 4/],
    ["x, GPU-2f8a, NVIDIA H100 80GB HBM3, 81559, 550.54.15", /index is not a number/],
    ["0, 2f8a, NVIDIA H100 80GB HBM3, 81559, 550.54.15", /uuid is not a GPU uuid/],
    ["0, GPU-2f8a, NVIDIA H100 80GB HBM3, 81559, N/A", /bad driver version/],
    ["Segmentation fault", /expected 5 comma-separated fields/],
  ])("rejects %j", (line, message) => {
    expect(() => parseNvidiaSmiQuery(line)).toThrow(message);
  });
});
