import { fileURLToPath } from "node:url";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import { configVariable, defineConfig } from "hardhat/config";
import type { HttpNetworkUserConfig } from "hardhat/types/config";

// solc comes from the `solc` npm package (pinned in package.json), so compiling never downloads a
// compiler: the machines this runs on reach only the npm registry.
const solcPath = fileURLToPath(import.meta.resolve("solc/soljson.js"));

/** A public testnet: the RPC URL and deployer key are configuration variables (keystore or env). */
function testnet(prefix: string, chainId: number): HttpNetworkUserConfig {
  return {
    type: "http",
    chainType: "l1",
    chainId,
    url: configVariable(`${prefix}_RPC_URL`),
    accounts: [configVariable(`${prefix}_PRIVATE_KEY`)],
  };
}

export default defineConfig({
  plugins: [hardhatViem, hardhatKeystore, hardhatNetworkHelpers],
  solidity: {
    version: "0.8.30",
    path: solcPath,
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
    },
  },
  paths: {
    tests: { solidity: "test/contracts" },
  },
  test: {
    solidity: {
      fuzz: { runs: 256 },
      invariant: { runs: 64, depth: 32, failOnRevert: false },
    },
  },
  networks: {
    // Any JSON-RPC node, e.g. `anvil` or `hardhat node`: GRIDSPOT_RPC_URL / GRIDSPOT_DEPLOYER_KEY.
    rpc: {
      type: "http",
      chainType: "l1",
      url: configVariable("GRIDSPOT_RPC_URL"),
      accounts: [configVariable("GRIDSPOT_DEPLOYER_KEY")],
    },
    sepolia: testnet("SEPOLIA", 11155111),
    baseSepolia: testnet("BASE_SEPOLIA", 84532),
    arbitrumSepolia: testnet("ARBITRUM_SEPOLIA", 421614),
  },
});
