// Hardhat v2 as a plain Ethereum JSON-RPC dev node for the integration tests
// (tests/chain.py runs `hardhat node --hostname 127.0.0.1 --port P` here). Nothing is
// compiled: there are no contracts, and no `solidity` section, so no solc is downloaded.
//
// Hardhat stays offline when started non-interactively: the telemetry prompt, the Hardhat 3
// banner download and analytics need a TTY (or a recorded consent) and are off on CI-like
// hosts; tests/chain.py also sets HARDHAT_DISABLE_TELEMETRY_PROMPT=true and CI=true for it.

/** @type {import("hardhat/config").HardhatUserConfig} */
module.exports = {
  defaultNetwork: "hardhat",
  networks: {
    hardhat: {
      chainId: 31337,
      // Automine: every transaction is mined into its own block as soon as it arrives.
      mining: { auto: true, interval: 0 },
    },
  },
};
