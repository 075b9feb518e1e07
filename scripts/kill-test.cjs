// Crash test of `ogn devnet` (driven by scripts/kill-test): SIGKILL at random moments under load, ROUNDS
// times, and after every restart:
//   1. the node starts again on the same state dir and its head is at or past every receipt seen;
//   2. every transaction whose receipt was seen before a kill still has it (same hash, block number, block
//      hash, status). eth_sendRawTransaction answers once a transaction is accepted, before its block is
//      synced (as geth and anvil do), so one acknowledged without a receipt seen may be lost in a kill:
//      those are counted (`acknowledged, no receipt seen, gone`), and the ones still there have their
//      receipt checked from then on like the others;
//   3. a second SIGKILL while idle and another restart give the same head (number, hash, state root);
//   4. every block up to the head, replayed from genesis on a second devnet (its raw transactions sent
//      again in block order, then evm_mine), gives the same state root, transactions root, receipts root,
//      gas used and transaction hashes, block by block;
//   5. the chain continues: a new transaction gets a receipt.
// The load: transfers from dev accounts 1..7 (one stream each, nonces in order) and inference transactions
// (MLP 784-128-10 through the 0x…F4 precompile) from dev account 8. Transactions are signed once per
// (sender, nonce), so a transaction lost in a kill is sent again with the same bytes.
//
//   node kill-test.cjs OGN_BIN MODEL_ONNX WORK_DIR ROUNDS SEED DEADLINE_S
//
// Prints one line per round and `N passed, M failed` at the end (exit 1 if any failed). Everything runs on
// 127.0.0.1; both devnets are killed on every exit path.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const http = require("node:http");
const { spawn, execFileSync } = require("node:child_process");
const { Wallet, HDNodeWallet, Mnemonic, AbiCoder, id, keccak256 } = require("ethers");

const MNEMONIC = "test test test test test test test test test test test junk";
const PRECOMPILE = "0x00000000000000000000000000000000000000F4";
const RUN_MODEL_INFERENCE =
  "runModelInference((uint8,string,((string,(int128,int128)[],uint32[])[],(string,string[])[])))";
const TRANSFER_SENDERS = [1, 2, 3, 4, 5, 6, 7];
const INFERENCE_SENDER = 8;
const PROBE_SENDER = 0;

const [OGN, MODEL, WORK, ROUNDS_ARG, SEED_ARG, DEADLINE_ARG] = process.argv.slice(2);
const ROUNDS = Number(ROUNDS_ARG || 20);
const DEADLINE = Date.now() + 1000 * Number(DEADLINE_ARG || 900);
let seed = Number(SEED_ARG || Date.now()) >>> 0;

function random() {
  // xorshift32: reproducible kill moments for a given seed.
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => console.log(`kill-test: ${msg}`);

// ----- processes -----

const children = new Set();
function killAll() {
  for (const p of children) {
    try {
      p.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
}
process.on("exit", killAll);
process.on("unhandledRejection", (e) => {
  console.error(`kill-test: ${e && e.stack ? e.stack : e}`);
  console.log("0 passed, 1 failed");
  killAll();
  process.exit(1);
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** Starts `ogn devnet` on 127.0.0.1:0 and resolves to { proc, url } once it listens. */
async function startDevnet(name, stateDir, extra = []) {
  const logPath = path.join(WORK, `${name}.log`);
  const start = fs.existsSync(logPath) ? fs.statSync(logPath).size : 0;
  const fd = fs.openSync(logPath, "a");
  const proc = spawn(OGN, ["devnet", "--listen", "127.0.0.1:0", "--state-dir", stateDir, ...extra], {
    stdio: ["ignore", fd, fd],
    env: { ...process.env, OGN_DATA_DIR: path.join(WORK, `${name}-data`), RUST_LOG: "warn" },
  });
  fs.closeSync(fd);
  children.add(proc);
  let exited = null;
  const exit = new Promise((resolve) =>
    proc.on("exit", (code, signal) => {
      exited = signal || `exit ${code}`;
      children.delete(proc);
      resolve(exited);
    }),
  );
  const t0 = Date.now();
  while (Date.now() - t0 < 120_000) {
    const text = readFrom(logPath, start);
    const m = text.match(/listening on (http:\/\/\S+)/);
    if (m) return { proc, url: m[1], exit, started_ms: Date.now() - t0 };
    if (exited) throw new Error(`${name} exited (${exited}) before listening:\n${text.slice(-2000)}`);
    await sleep(20);
  }
  proc.kill("SIGKILL");
  throw new Error(`${name} did not listen within 120 s`);
}

function readFrom(file, offset) {
  const size = fs.statSync(file).size;
  const buf = Buffer.alloc(size - offset);
  const fd = fs.openSync(file, "r");
  fs.readSync(fd, buf, 0, buf.length, offset);
  fs.closeSync(fd);
  return buf.toString();
}

async function kill(node) {
  node.proc.kill("SIGKILL");
  await node.exit;
}

// ----- JSON-RPC -----

function rpcClient(url) {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let next = 1;
  function post(body) {
    return new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: "/",
          method: "POST",
          agent,
          timeout: 60_000,
          headers: { "content-type": "application/json", "content-length": data.length },
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString()));
            } catch {
              reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`));
            }
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("request timed out")));
      req.on("error", reject);
      req.end(data);
    });
  }
  async function call(method, params) {
    const r = await post({ jsonrpc: "2.0", id: next++, method, params });
    if (r.error) {
      const e = new Error(`${method}: ${r.error.code} ${r.error.message}`);
      e.rpc = r.error;
      throw e;
    }
    return r.result;
  }
  async function batch(method, paramsList) {
    const out = [];
    for (let i = 0; i < paramsList.length; i += 200) {
      const body = paramsList.slice(i, i + 200).map((p) => ({ jsonrpc: "2.0", id: next++, method, params: p }));
      const r = await post(body);
      if (!Array.isArray(r)) throw new Error(`${method} batch: ${JSON.stringify(r).slice(0, 300)}`);
      const byId = new Map(r.map((x) => [x.id, x]));
      for (const b of body) {
        const x = byId.get(b.id);
        if (!x || x.error) throw new Error(`${method}: ${JSON.stringify(x && x.error)}`);
        out.push(x.result);
      }
    }
    return out;
  }
  return { call, batch, close: () => agent.destroy() };
}

// ----- transactions -----

const mnemonic = Mnemonic.fromPhrase(MNEMONIC);
const wallets = new Map();
function wallet(i) {
  if (!wallets.has(i)) {
    wallets.set(i, new Wallet(HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`).privateKey));
  }
  return wallets.get(i);
}

/** 784 fixed pseudo-random numbers in [0, 1) with 4 decimals (OpenGradient Numbers), one set per seed. */
function mlpValues(seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  const values = [];
  for (let i = 0; i < 784; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values.push(s % 10000);
  }
  return values;
}

/**
 * Calldata of runModelInference(VANILLA, cid, {input: values as Number(v, 4), shape [1, 784]}). The ABI
 * encoding is done once with ethers; each call then rewrites the 784 value words in place (the Number
 * tuples are static, so they lie 64 bytes apart), which is ~1000x faster than re-encoding.
 */
function inferenceEncoder(cid) {
  const SENTINEL = 0x5a5a5a5a5a5an;
  const first = [SENTINEL, ...mlpValues(1).slice(1).map(BigInt)];
  const request = [0, cid, [[["input", first.map((v) => [v, 4n]), [1, 784]]], []]];
  const selector = id(RUN_MODEL_INFERENCE).slice(0, 10);
  const args = AbiCoder.defaultAbiCoder().encode(
    ["(uint8,string,((string,(int128,int128)[],uint32[])[],(string,string[])[]))"],
    [request],
  );
  const template = selector + args.slice(2);
  const at = template.indexOf(SENTINEL.toString(16).padStart(64, "0"));
  if (at < 0 || template.indexOf(SENTINEL.toString(16).padStart(64, "0"), at + 1) >= 0) {
    throw new Error("cannot locate the input values in the encoded call");
  }
  const head = template.slice(0, at);
  const tail = template.slice(at + 784 * 128);
  return (seed) => {
    const parts = [head];
    for (const v of mlpValues(seed)) parts.push(v.toString(16).padStart(64, "0"), "0".repeat(63) + "4");
    parts.push(tail);
    return parts.join("");
  };
}

const signed = new Map(); // "sender:nonce" -> { raw, hash }
const rawByHash = new Map(); // hash -> raw
let chainId;
let modelCid;
let inferenceGas;
let inferenceCalldata; // seed -> calldata (inferenceEncoder)

async function signedTx(sender, nonce) {
  const key = `${sender}:${nonce}`;
  if (signed.has(key)) return signed.get(key);
  const tx = {
    type: 2,
    chainId,
    nonce,
    maxFeePerGas: 100_000_000_000n,
    maxPriorityFeePerGas: 1_000_000_000n,
  };
  if (sender === INFERENCE_SENDER) {
    tx.to = PRECOMPILE;
    tx.value = 0n;
    tx.data = inferenceCalldata(Number(nonce) + 1);
    tx.gasLimit = inferenceGas;
  } else {
    tx.to = "0x" + (0x1000 + ((sender * 7919 + Number(nonce)) % 500)).toString(16).padStart(40, "0");
    tx.value = 1_000_000n + BigInt(nonce);
    tx.gasLimit = 21_000n;
  }
  const raw = await wallet(sender).signTransaction(tx);
  const entry = { raw, hash: keccak256(raw) };
  signed.set(key, entry);
  rawByHash.set(entry.hash, raw);
  return entry;
}

// ----- state of the run -----

const seen = new Map(); // hash -> { blockNumber, blockHash, status } (receipt seen before a kill)
const acknowledged = new Set(); // hashes whose eth_sendRawTransaction answered
let replayedTo = 0; // blocks checked against the replay devnet

/** Runs the load until the node dies; resolves to counts. */
function load(node, rpc) {
  const stats = { sent: 0, inference: 0, receipts: 0, errors: 0 };
  let stop = false;
  node.exit.then(() => {
    stop = true;
  });
  async function stream(sender) {
    let nonce;
    try {
      nonce = BigInt(await rpc.call("eth_getTransactionCount", [wallet(sender).address, "latest"]));
    } catch {
      return;
    }
    while (!stop) {
      const { raw, hash } = await signedTx(sender, nonce);
      try {
        const got = await rpc.call("eth_sendRawTransaction", [raw]);
        if (got !== hash) throw new Error(`eth_sendRawTransaction returned ${got}, expected ${hash}`);
        acknowledged.add(hash);
        stats.sent++;
        if (sender === INFERENCE_SENDER) stats.inference++;
        nonce++;
        const r = await rpc.call("eth_getTransactionReceipt", [hash]);
        if (r) {
          seen.set(hash, { blockNumber: r.blockNumber, blockHash: r.blockHash, status: r.status });
          stats.receipts++;
        }
      } catch (e) {
        if (stop || /ECONNREFUSED|ECONNRESET|socket hang up|EPIPE/.test(e.message)) return;
        stats.errors++;
        stats.lastError = e.message;
        if (stats.errors > 50) throw new Error(`load: too many errors, last: ${e.message}`);
        await sleep(10);
        // Resynchronise the nonce (a transaction may have been taken before an error).
        try {
          nonce = BigInt(await rpc.call("eth_getTransactionCount", [wallet(sender).address, "latest"]));
        } catch {
          return;
        }
      }
    }
  }
  const done = Promise.all([...TRANSFER_SENDERS, INFERENCE_SENDER].map(stream)).then(() => stats);
  return done;
}

async function head(rpc) {
  const b = await rpc.call("eth_getBlockByNumber", ["latest", false]);
  return { number: Number(b.number), hash: b.hash, stateRoot: b.stateRoot };
}

async function checkReceipts(rpc, problems) {
  const hashes = [...seen.keys()];
  const receipts = await rpc.batch("eth_getTransactionReceipt", hashes.map((h) => [h]));
  let lost = 0;
  let changed = 0;
  receipts.forEach((r, i) => {
    const want = seen.get(hashes[i]);
    if (!r) lost++;
    else if (r.blockNumber !== want.blockNumber || r.blockHash !== want.blockHash || r.status !== want.status) {
      changed++;
      if (changed <= 3) {
        problems.push(`receipt of ${hashes[i]} moved: ${JSON.stringify(want)} -> ${r.blockNumber} ${r.blockHash}`);
      }
    }
  });
  if (lost) problems.push(`${lost} of ${hashes.length} receipts seen before the kill are gone`);
  if (changed) problems.push(`${changed} receipts changed block`);
  const acks = [...acknowledged].filter((h) => !seen.has(h));
  const ackReceipts = await rpc.batch("eth_getTransactionReceipt", acks.map((h) => [h]));
  let ackLost = 0;
  ackReceipts.forEach((r, i) => {
    if (r) seen.set(acks[i], { blockNumber: r.blockNumber, blockHash: r.blockHash, status: r.status });
    else ackLost++;
    // Lost ones are sent again (same bytes) by a later round's load.
    acknowledged.delete(acks[i]);
  });
  const bad = [...seen.values()].filter((r) => r.status !== "0x1").length;
  if (bad) problems.push(`${bad} transactions failed (status 0)`);
  return { checked: hashes.length, ackLost };
}

/** Replays blocks replayedTo+1..to on the replay devnet and compares them with the victim's. */
async function replay(victim, rpl, to, problems) {
  const from = replayedTo + 1;
  for (let n = from; n <= to; n++) {
    const b = await victim.call("eth_getBlockByNumber", ["0x" + n.toString(16), false]);
    if (!b) {
      problems.push(`block ${n} is missing below the head ${to}`);
      return;
    }
    for (const h of b.transactions) {
      const raw = rawByHash.get(h);
      if (!raw) {
        problems.push(`block ${n} holds a transaction ${h} that was never sent`);
        return;
      }
      await rpl.call("eth_sendRawTransaction", [raw]);
    }
    await rpl.call("evm_mine", []);
    const r = await rpl.call("eth_getBlockByNumber", ["0x" + n.toString(16), false]);
    const fields = ["stateRoot", "transactionsRoot", "receiptsRoot", "gasUsed", "logsBloom", "baseFeePerGas"];
    const diff = fields.filter((f) => !r || r[f] !== b[f]);
    if (r && JSON.stringify(r.transactions) !== JSON.stringify(b.transactions)) diff.push("transactions");
    if (diff.length) {
      problems.push(`block ${n}: replay differs in ${diff.join(", ")} (state root ${b.stateRoot} vs ${r && r.stateRoot})`);
      return;
    }
    replayedTo = n;
  }
}

async function pushModel(url, name) {
  const env = { ...process.env, OGN_DATA_DIR: path.join(WORK, `${name}-client`) };
  const run = (args) => execFileSync(OGN, ["--hub", url, ...args], { env, encoding: "utf8", timeout: 120_000 });
  run(["model", "create", "kill-test-mlp"]);
  const out = JSON.parse(run(["--json", "model", "push", "kill-test-mlp", MODEL]));
  return out.files[0].ipfsCid;
}

async function main() {
  if (!OGN || !MODEL || !WORK) throw new Error("usage: kill-test.cjs OGN_BIN MODEL_ONNX WORK_DIR ROUNDS SEED DEADLINE_S");
  log(`seed ${seed}, ${ROUNDS} rounds, work dir ${WORK}`);
  const victimDir = path.join(WORK, "victim");
  const replayDir = path.join(WORK, "replay");
  // The replay devnet mines only on evm_mine (its interval is far beyond the test's deadline).
  const replayNode = await startDevnet("replay", replayDir, ["--block-time", "1000000"]);
  const rpl = rpcClient(replayNode.url);
  let victim = await startDevnet("victim", victimDir);
  let rpc = rpcClient(victim.url);
  chainId = BigInt(await rpc.call("eth_chainId", []));
  modelCid = await pushModel(victim.url, "victim");
  const replayCid = await pushModel(replayNode.url, "replay");
  if (replayCid !== modelCid) throw new Error(`model CIDs differ: ${modelCid} vs ${replayCid}`);
  inferenceCalldata = inferenceEncoder(modelCid);
  const est = await rpc.call("eth_estimateGas", [
    { from: wallet(INFERENCE_SENDER).address, to: PRECOMPILE, data: inferenceCalldata(0) },
  ]);
  inferenceGas = (BigInt(est) * 12n) / 10n;
  log(`model ${modelCid}, inference gas limit ${inferenceGas}`);

  let passed = 0;
  let failed = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    if (Date.now() > DEADLINE) {
      log(`deadline reached before round ${round}`);
      failed += ROUNDS - round + 1;
      break;
    }
    const problems = [];
    const t0 = Date.now();
    const before = await head(rpc);
    const running = load(victim, rpc).catch((e) => ({ error: e.message }));
    const delay = 200 + Math.floor(random() * 1800);
    await sleep(delay);
    await kill(victim);
    const stats = await running;
    if (stats.error) problems.push(`load: ${stats.error}`);
    rpc.close();
    // 1. restart
    try {
      victim = await startDevnet("victim", victimDir);
    } catch (e) {
      problems.push(`restart failed: ${e.message}`);
      log(`round ${round}: FAIL ${problems.join("; ")}`);
      failed += ROUNDS - round + 1;
      break;
    }
    rpc = rpcClient(victim.url);
    let checked = 0;
    let ackLost = "?";
    let after;
    try {
      after = await head(rpc);
      const maxSeen = Math.max(0, ...[...seen.values()].map((r) => Number(r.blockNumber)));
      if (after.number < maxSeen) problems.push(`head ${after.number} is below a seen receipt's block ${maxSeen}`);
      // 2. receipts
      ({ checked, ackLost } = await checkReceipts(rpc, problems));
      // 3. kill while idle, restart, same head
      await kill(victim);
      rpc.close();
      victim = await startDevnet("victim", victimDir);
      rpc = rpcClient(victim.url);
      const again = await head(rpc);
      if (JSON.stringify(again) !== JSON.stringify(after)) {
        problems.push(`second restart changed the head: ${JSON.stringify(after)} -> ${JSON.stringify(again)}`);
      }
      // 4. replay from genesis, block by block
      await replay(rpc, rpl, after.number, problems);
      // 5. the chain continues
      const nonce = BigInt(await rpc.call("eth_getTransactionCount", [wallet(PROBE_SENDER).address, "latest"]));
      const probe = await signedTx(PROBE_SENDER, nonce);
      await rpc.call("eth_sendRawTransaction", [probe.raw]);
      const r = await rpc.call("eth_getTransactionReceipt", [probe.hash]);
      if (!r || Number(r.blockNumber) !== after.number + 1) {
        problems.push(`probe transaction not mined on top of the head ${after.number}`);
      } else {
        seen.set(probe.hash, { blockNumber: r.blockNumber, blockHash: r.blockHash, status: r.status });
      }
    } catch (e) {
      problems.push(`check failed: ${e.message}`);
    }
    const summary =
      `killed after ${delay} ms, blocks ${before.number}->${after ? after.number : "?"}, ` +
      `sent ${stats.sent ?? "?"} (${stats.inference ?? "?"} inference, ${stats.receipts ?? "?"} receipts seen), ${checked} receipts checked, ` +
      `${ackLost} acknowledged, no receipt seen, gone, ` +
      `replayed to ${replayedTo}, restart ${victim.started_ms} ms, round ${Date.now() - t0} ms`;
    if (problems.length) {
      failed++;
      log(`round ${round}: FAIL ${summary}: ${problems.join("; ")}`);
    } else {
      passed++;
      log(`round ${round}: ok   ${summary}`);
    }
  }
  rpc.close();
  rpl.close();
  await kill(victim).catch(() => {});
  await kill(replayNode).catch(() => {});
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(`kill-test: ${e.stack || e.message}`);
  console.log("0 passed, 1 failed");
  killAll();
  process.exit(1);
});
