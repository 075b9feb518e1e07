// ethers.js (npm `ethers` v6) against an ogn devnet: a transfer, a contract call through the 0xF4 precompile, a log query.
// Needs OGN_URL (a running devnet), COMPAT_BUILD (compiled contracts, models' CIDs in cids.json), NODE_PATH with ethers.
const test = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const path = require("node:path");
const { ethers } = require("ethers");

const build = process.env.COMPAT_BUILD;
const url = process.env.OGN_URL;
const key = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"; // dev account 3

test("transfer, contract inference and logs", async () => {
  // ethers dedupes identical requests for 250 ms by default; a devnet mines faster than that, so a nonce read
  // right after a receipt would be served from that cache.
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, cacheTimeout: -1 });
  const wallet = new ethers.Wallet(key, provider);
  const to = ethers.Wallet.createRandom().address;

  const tx = await wallet.sendTransaction({ to, value: ethers.parseEther("0.25") });
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  assert.equal(await provider.getBalance(to), ethers.parseEther("0.25"));

  const artifact = JSON.parse(fs.readFileSync(path.join(build, "InferenceCaller.json"), "utf8"));
  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
  const caller = await factory.deploy();
  await caller.waitForDeployment();

  const cid = JSON.parse(fs.readFileSync(path.join(build, "cids.json"), "utf8")).affine;
  const call = await caller.infer(cid, "x", [1, 2, 3, 4], [1, 4]);
  const callReceipt = await call.wait();
  assert.equal(callReceipt.status, 1);
  const parsed = callReceipt.logs.map((l) => caller.interface.parseLog(l)).filter((l) => l && l.name === "Inferred");
  assert.equal(parsed.length, 1);
  assert.equal(Number(parsed[0].args.firstValue) / 10 ** Number(parsed[0].args.firstDecimals), 12.5);

  const logs = await provider.getLogs({ address: await caller.getAddress(), fromBlock: 0, toBlock: "latest" });
  assert.equal(logs.length, 1);
  assert.equal(logs[0].transactionHash, callReceipt.hash);

  await assert.rejects(caller.fail.staticCall(), /asked to fail/);
});
