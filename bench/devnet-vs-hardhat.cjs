// Load client of bench/devnet-vs-hardhat: signs transactions ahead of time, sends them over JSON-RPC
// (eth_sendRawTransaction, keep-alive HTTP, one stream per sender so nonces arrive in order), waits until
// every receipt exists and prints one JSON line with the throughput.
//
// BENCH_WARMUP=W (default 400) transactions of the same kind go first through the same connections, off the
// clock, and the clock starts once their receipts exist: the client process is new for each measurement,
// and its first requests run while V8 compiles the hot paths on the same two cores as the node under test.
//
// BENCH_BATCH=K (default 1) sends standard JSON-RPC batch requests (an array of K eth_sendRawTransaction
// calls) instead, one batch in flight per stream. A hardhat node in automine handles a batch's calls
// concurrently and refuses a nonce that arrives before the one below it, so each call of a batch is from a
// different sender: stream k has K senders of its own (accounts 10 + k*K … of the same mnemonic, funded
// from the dev accounts before the clock starts, on both nodes), and its i-th batch holds the i-th
// transaction of each. Latencies are then per batch request.
//
//   node devnet-vs-hardhat.cjs transfers URL COUNT STREAMS
//   node devnet-vs-hardhat.cjs inference URL COUNT STREAMS MODEL_CID
//
// Needs `ethers` on NODE_PATH (the bench script installs it). Senders: the first STREAMS dev accounts of the
// mnemonic "test test … junk" (funded on both ogn devnet and a hardhat node). Each stream sends its sender's
// transactions one after another; the streams run concurrently. Signing and the nonce/fee look-ups happen
// before the clock starts; the clock stops when the last receipt is found.
"use strict";

const http = require("node:http");
const net = require("node:net");
const { Wallet, HDNodeWallet, Mnemonic, AbiCoder, id } = require("ethers");

const MNEMONIC = "test test test test test test test test test test test junk";
const PRECOMPILE = "0x00000000000000000000000000000000000000F4";
const RUN_MODEL_INFERENCE =
  "runModelInference((uint8,string,((string,(int128,int128)[],uint32[])[],(string,string[])[])))";

function devWallets(n, first = 0) {
  const m = Mnemonic.fromPhrase(MNEMONIC);
  const out = [];
  for (let i = first; i < first + n; i++) {
    const w = HDNodeWallet.fromMnemonic(m, `m/44'/60'/0'/0/${i}`);
    out.push(new Wallet(w.privateKey));
  }
  return out;
}

/**
 * JSON-RPC over keep-alive HTTP/1.1. `call(method, params)` resolves to the result or throws; `send(body)`
 * posts a body serialized ahead of time (see `frame`). Two transports:
 * - "raw" (default): one TCP socket per stream, requests written as prepared bytes and responses parsed in
 *   place (Content-Length or chunked). Node's http client costs ~250 µs of CPU per request on this machine,
 *   as much as a fast server, and the client shares the two cores with the node under test; this one costs
 *   a fraction of that, so the measurement is less about the client.
 * - "node-http" (BENCH_TRANSPORT=node-http): node:http with a keep-alive agent.
 */
function client(url, sockets) {
  return (process.env.BENCH_TRANSPORT || "raw") === "node-http" ? httpClient(url, sockets) : rawClient(url);
}

function rpcApi(post) {
  let next = 1;
  async function call(method, params, conn) {
    const r = await post({ jsonrpc: "2.0", id: next++, method, params }, conn);
    if (r.error) throw new Error(`${method}: ${r.error.code} ${r.error.message}`);
    return r.result;
  }
  async function batch(method, paramsList) {
    const body = paramsList.map((p) => ({ jsonrpc: "2.0", id: next++, method, params: p }));
    const r = await post(body);
    if (!Array.isArray(r)) throw new Error(`${method} batch: ${JSON.stringify(r).slice(0, 200)}`);
    const byId = new Map(r.map((x) => [x.id, x]));
    return body.map((b) => {
      const x = byId.get(b.id);
      if (!x || x.error) throw new Error(`${method}: ${JSON.stringify(x && x.error)}`);
      return x.result;
    });
  }
  return { call, batch, nextId: () => next++ };
}

function httpClient(url, sockets) {
  const u = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  function post(body) {
    return new Promise((resolve, reject) => {
      const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": data.length },
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            try {
              resolve(JSON.parse(Buffer.concat(chunks).toString()));
            } catch (e) {
              reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
            }
          });
        },
      );
      req.on("error", reject);
      req.end(data);
    });
  }
  const api = rpcApi(post);
  return {
    ...api,
    connect: async () => ({}),
    frame: (body) => Buffer.from(JSON.stringify(body)),
    send: (framed) => post(framed),
    close: () => agent.destroy(),
  };
}

/** One keep-alive TCP connection; one request at a time. */
function rawConnection(u) {
  const socket = net.connect({ host: u.hostname, port: Number(u.port) });
  socket.setNoDelay(true);
  let buf = Buffer.alloc(0);
  let waiting = null;
  let failed = null;
  const ready = new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  function fail(e) {
    failed = e;
    if (waiting) waiting.reject(e);
    waiting = null;
  }
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("connection closed")));
  // Parses one response from `buf` if complete: returns the body, or null for "need more bytes".
  function parse() {
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0) return null;
    const head = buf.toString("latin1", 0, end).toLowerCase();
    const status = Number(head.slice(9, 12));
    let body;
    let rest;
    const len = /\r\ncontent-length: *(\d+)/.exec(head);
    if (len) {
      const n = Number(len[1]);
      if (buf.length < end + 4 + n) return null;
      body = buf.subarray(end + 4, end + 4 + n);
      rest = buf.subarray(end + 4 + n);
    } else if (/\r\ntransfer-encoding: *chunked/.test(head)) {
      const parts = [];
      let at = end + 4;
      for (;;) {
        const eol = buf.indexOf("\r\n", at);
        if (eol < 0) return null;
        const size = parseInt(buf.toString("latin1", at, eol), 16);
        if (buf.length < eol + 2 + size + 2) return null;
        if (size === 0) {
          rest = buf.subarray(eol + 4);
          break;
        }
        parts.push(buf.subarray(eol + 2, eol + 2 + size));
        at = eol + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      throw new Error(`response without a length: ${head.slice(0, 200)}`);
    }
    buf = Buffer.from(rest);
    return { status, body };
  }
  socket.on("data", (chunk) => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    if (!waiting) return;
    let r;
    try {
      r = parse();
    } catch (e) {
      return fail(e);
    }
    if (!r) return;
    const w = waiting;
    waiting = null;
    try {
      w.resolve(JSON.parse(r.body.toString()));
    } catch (e) {
      w.reject(new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 200)}`));
    }
  });
  function send(framed) {
    if (failed) return Promise.reject(failed);
    if (waiting) return Promise.reject(new Error("one request at a time per connection"));
    return new Promise((resolve, reject) => {
      waiting = { resolve, reject };
      socket.write(framed);
    });
  }
  return { ready, send, closed: () => failed !== null, close: () => socket.destroy() };
}

function rawClient(url) {
  const u = new URL(url);
  const prefix = `POST ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: `;
  const frame = (body) => {
    const data = Buffer.from(JSON.stringify(body));
    return Buffer.concat([Buffer.from(`${prefix}${data.length}\r\n\r\n`, "latin1"), data]);
  };
  const conns = [];
  async function connect() {
    const c = rawConnection(u);
    await c.ready;
    conns.push(c);
    return c;
  }
  let shared = null;
  async function post(body, conn) {
    if (!conn) {
      // The shared connection sits idle while the other node is measured, and a server may close an idle
      // keep-alive connection: open a new one then. Nothing was in flight on it.
      if (!shared || shared.closed()) shared = await connect();
      conn = shared;
    }
    return conn.send(frame(body));
  }
  const api = rpcApi(post);
  return { ...api, connect, frame, send: (framed, conn) => conn.send(framed), close: () => conns.forEach((c) => c.close()) };
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

/** Gives each of `wallets` 10 ETH from the dev accounts (round robin) unless it holds 1 ETH already. */
async function fund(rpc, chainId, maxFee, wallets) {
  const balances = await rpc.batch("eth_getBalance", wallets.map((w) => [w.address, "latest"]));
  const poor = wallets.filter((_, i) => BigInt(balances[i]) < 10n ** 18n);
  if (poor.length === 0) return;
  const funders = devWallets(10);
  const hashes = [];
  // One request at a time: the client's shared connection carries one in flight.
  for (const [f, funder] of funders.entries()) {
    let nonce = BigInt(await rpc.call("eth_getTransactionCount", [funder.address, "pending"]));
    for (let i = f; i < poor.length; i += funders.length) {
      const raw = await funder.signTransaction({
        type: 2,
        chainId,
        nonce: nonce++,
        gasLimit: 21000n,
        maxFeePerGas: maxFee,
        maxPriorityFeePerGas: 1_000_000_000n,
        to: poor[i].address,
        value: 10n * 10n ** 18n,
      });
      hashes.push(await rpc.call("eth_sendRawTransaction", [raw]));
    }
  }
  for (const h of hashes) {
    let r;
    while (!(r = await rpc.call("eth_getTransactionReceipt", [h]))) await new Promise((ok) => setTimeout(ok, 20));
    if (r.status !== "0x1") throw new Error(`funding ${h} failed`);
  }
}

async function main() {
  const [kind, url, countArg, streamsArg, cid] = process.argv.slice(2);
  const count = Number(countArg);
  const streams = Number(streamsArg);
  if (!["transfers", "inference"].includes(kind) || !url || !(count > 0) || !(streams > 0 && streams <= 10)) {
    throw new Error("usage: devnet-vs-hardhat.cjs transfers|inference URL COUNT STREAMS(1..10) [MODEL_CID]");
  }
  if (kind === "inference" && !cid) throw new Error("inference needs the model CID");
  const rpc = client(url, streams + 2);
  const chainId = BigInt(await rpc.call("eth_chainId", []));
  const block = await rpc.call("eth_getBlockByNumber", ["latest", false]);
  const baseFee = BigInt(block.baseFeePerGas || "0x3b9aca00");
  const maxFee = baseFee * 4n + 2_000_000_000n;
  const batch = Number(process.env.BENCH_BATCH || 1);
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`BENCH_BATCH must be a positive integer`);
  if (batch > 1 && kind !== "transfers") throw new Error("BENCH_BATCH applies to transfers only");
  const warmup = Number(process.env.BENCH_WARMUP ?? 400);
  if (!(Number.isInteger(warmup) && warmup >= 0)) throw new Error(`BENCH_WARMUP must be a non-negative integer`);
  // Senders: stream k sends from wallets[k] (batch 1) or from wallets[k*batch .. k*batch+batch-1].
  const wallets = batch === 1 ? devWallets(streams) : devWallets(streams * batch, 10);
  if (batch > 1) await fund(rpc, chainId, maxFee, wallets);

  // Sign everything before the clock starts.
  const perStream = wallets.map(() => []);
  let gasLimit = 21000n;
  let firstData;
  let encode;
  if (kind === "inference") {
    encode = inferenceEncoder(cid);
    firstData = encode(1);
    const est = await rpc.call("eth_estimateGas", [{ from: wallets[0].address, to: PRECOMPILE, data: firstData }]);
    gasLimit = (BigInt(est) * 12n) / 10n;
  }
  const signStart = performance.now();
  const senders = wallets.length;
  // The first `warm` transactions of every sender are the warm-up (the same number for each, so that the
  // first `warm` requests of every stream are the warm-up in batches too).
  const warm = Math.ceil(warmup / senders);
  for (let k = 0; k < senders; k++) {
    const nonce = BigInt(await rpc.call("eth_getTransactionCount", [wallets[k].address, "pending"]));
    const n = warm + Math.floor(count / senders) + (k < count % senders ? 1 : 0);
    for (let i = 0; i < n; i++) {
      const tx = {
        type: 2,
        chainId,
        nonce: nonce + BigInt(i),
        gasLimit,
        maxFeePerGas: maxFee,
        maxPriorityFeePerGas: 1_000_000_000n,
      };
      if (kind === "transfers") {
        tx.to = "0x" + (0x1000 + ((k * 7919 + i) % 1000)).toString(16).padStart(40, "0");
        tx.value = 1_000_000_000n + BigInt(i);
      } else {
        tx.to = PRECOMPILE;
        tx.value = 0n;
        tx.data = encode(k * 1_000_003 + i + 1);
      }
      perStream[k].push(await wallets[k].signTransaction(tx));
    }
  }
  const signMs = performance.now() - signStart;

  // The request bodies are serialized ahead of time too, and each stream has its own connection.
  const call = (raw) => ({ jsonrpc: "2.0", id: rpc.nextId(), method: "eth_sendRawTransaction", params: [raw] });
  const framed = [];
  for (let k = 0; k < streams; k++) {
    const own = perStream.slice(k * batch, (k + 1) * batch);
    if (batch === 1) {
      framed.push(own[0].map((raw) => rpc.frame(call(raw))));
      continue;
    }
    const bodies = [];
    for (let i = 0; i < own[0].length; i++) {
      bodies.push(rpc.frame(own.filter((raws) => i < raws.length).map((raws) => call(raws[i]))));
    }
    framed.push(bodies);
  }
  const conns = await Promise.all(framed.map(() => rpc.connect()));

  // Sends the requests `from..to` of every stream concurrently; returns the hashes and the latencies.
  async function send(from, to) {
    const hashes = [];
    const latencies = [];
    await Promise.all(
      framed.map(async (bodies, k) => {
        for (const body of bodies.slice(from, to)) {
          const t = performance.now();
          const r = await rpc.send(body, conns[k]);
          for (const x of Array.isArray(r) ? r : [r]) {
            if (x.error) throw new Error(`eth_sendRawTransaction: ${x.error.code} ${x.error.message}`);
            hashes.push(x.result);
          }
          latencies.push(performance.now() - t);
        }
      }),
    );
    return { hashes, latencies };
  }
  // Until every receipt of `hashes` exists (batches of 200; polls again for the missing ones); returns
  // how many failed.
  async function receipts(hashes) {
    let missing = hashes.slice();
    let failed = 0;
    while (missing.length > 0) {
      const still = [];
      for (let i = 0; i < missing.length; i += 200) {
        const chunk = missing.slice(i, i + 200);
        const got = await rpc.batch("eth_getTransactionReceipt", chunk.map((h) => [h]));
        got.forEach((r, j) => {
          if (!r) still.push(chunk[j]);
          else if (r.status !== "0x1") failed++;
        });
      }
      missing = still;
      if (missing.length > 0) await new Promise((r) => setTimeout(r, 5));
    }
    return failed;
  }

  if (warm > 0) {
    const { hashes } = await send(0, warm);
    if ((await receipts(hashes)) > 0) throw new Error("warm-up transactions failed");
  }
  const headBefore = Number(await rpc.call("eth_blockNumber", []));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const { hashes, latencies } = await send(warm, Infinity);
  const sentMs = performance.now() - t0;
  const failed = await receipts(hashes);
  const totalMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const headAfter = Number(await rpc.call("eth_blockNumber", []));
  rpc.close();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  console.log(
    JSON.stringify({
      kind,
      url,
      transport: process.env.BENCH_TRANSPORT || "raw",
      batch,
      txs: hashes.length,
      streams,
      failed,
      sign_ms: Math.round(signMs),
      send_ms: Math.round(sentMs),
      total_ms: Math.round(totalMs),
      tps: Number(((hashes.length * 1000) / totalMs).toFixed(1)),
      blocks: headAfter - headBefore,
      latency_ms_p50: Number(q(0.5).toFixed(2)),
      latency_ms_p99: Number(q(0.99).toFixed(2)),
      // The client's own CPU (user + system) while the clock ran, per transaction: it shares the cores
      // with the node under test.
      client_cpu_us_per_tx: Math.round((cpu.user + cpu.system) / hashes.length),
      gas_limit: Number(gasLimit),
    }),
  );
  if (failed > 0) process.exitCode = 2;
}

main().catch((e) => {
  console.error(`devnet-vs-hardhat: ${e.message}`);
  process.exit(1);
});
