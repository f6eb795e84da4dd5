// Drives tfchain-dev with @polkadot/api, an independent Substrate client:
// metadata decoding, System.Account, a signed mortal transfer and its
// events, a failing transfer resolved to its module error by name.
// All of it runs twice, over HTTP (HttpProvider) and over WebSocket
// (WsProvider, same port), and the WebSocket run also follows finalized and
// new heads through subscriptions: consecutive blocks, none skipped.
// Usage: node devchain_polkadotjs.mjs PORT (run by test_devchain_polkadotjs.sh).
import { ApiPromise, HttpProvider, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';

const fail = (msg) => { console.log('FAIL: ' + msg); process.exit(1); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await cryptoWaitReady();
const port = process.argv[2];
const kr = new Keyring({ type: 'ed25519', ss58Format: 42 });
const alice = kr.addFromUri('//Alice'), dest = kr.addFromUri('//PolkadotJsTest');
let sent = 0n;

// Subscribes through api.rpc.chain[method] and checks that the numbers
// announced are consecutive.
async function follow(api, method) {
  const seen = [];
  await new Promise((resolve, reject) => {
    let unsub = null;
    const t = setTimeout(() => reject(new Error(`${method}: no heads in 10 s`)), 10000);
    api.rpc.chain[method]((h) => {
      seen.push(h.number.toNumber());
      if (seen.length === 4) { clearTimeout(t); if (unsub) unsub(); resolve(); }
    }).then((u) => { unsub = u; if (seen.length >= 4) u(); }, reject);
  }).catch((e) => fail(e.message));
  for (let i = 1; i < seen.length; i++)
    if (seen[i] !== seen[i - 1] + 1) fail(`${method}: heads ${seen} are not consecutive`);
}

for (const kind of ['http', 'ws']) {
const provider = kind === 'http' ? new HttpProvider(`http://127.0.0.1:${port}`)
  : new WsProvider(`ws://127.0.0.1:${port}`, 1000);
const api = await ApiPromise.create({ provider, noInitWarn: true });
const names = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
for (const p of ['System', 'Timestamp', 'Balances', 'TfgridModule', 'SmartContractModule']) if (!names.includes(p)) fail(`no pallet ${p}`);

const a = await api.query.system.account(alice.address);
if (a.data.free.toString() === '0') fail('Alice has no funds');

// Finds the events of the block that included hash.
async function eventsOf(hash) {
  for (let tries = 0; tries < 50; tries++) {
    const head = (await api.rpc.chain.getHeader()).number.toNumber();
    for (let n = head; n > 0 && n > head - 30; n--) {
      const bh = await api.rpc.chain.getBlockHash(n);
      const blk = await api.rpc.chain.getBlock(bh);
      const idx = blk.block.extrinsics.findIndex((x) => x.hash.toHex() === hash);
      if (idx < 0) continue;
      const evs = await (await api.at(bh)).query.system.events();
      return evs.filter((e) => e.phase.isApplyExtrinsic && e.phase.asApplyExtrinsic.toNumber() === idx);
    }
    await sleep(100);
  }
  fail(`extrinsic ${hash} never included`);
}

const ok = await api.tx.balances.transferKeepAlive(dest.address, 12345678)
  .signAsync(alice, { nonce: -1, era: 64 });
const h1 = (await api.rpc.author.submitExtrinsic(ok)).toHex();
const ev1 = (await eventsOf(h1)).map((e) => `${e.event.section}.${e.event.method}`);
for (const want of ['balances.Withdraw', 'balances.Transfer', 'system.ExtrinsicSuccess'])
  if (!ev1.includes(want)) fail(`missing ${want} in ${ev1}`);
const d = await api.query.system.account(dest.address);
sent += 12345678n;
if (d.data.free.toString() !== sent.toString()) fail(`${kind}: destination holds ${d.data.free}`);

const bad = await api.tx.balances.transferKeepAlive(dest.address, '100000000000000000000')
  .signAsync(alice, { nonce: -1 });
const h2 = (await api.rpc.author.submitExtrinsic(bad)).toHex();
const failed = (await eventsOf(h2)).find((e) => api.events.system.ExtrinsicFailed.is(e.event));
if (!failed) fail('no ExtrinsicFailed');
const err = api.registry.findMetaError(failed.event.data[0].asModule);
if (`${err.section}.${err.name}` !== 'balances.InsufficientBalance') fail(`error ${err.section}.${err.name}`);
try { await api.rpc.author.submitExtrinsic(bad); fail('stale resubmission accepted'); }
catch (e) { if (!String(e.message).includes('1010')) fail(`resubmission: ${e.message}`); }
if (kind === 'ws') {
  await follow(api, 'subscribeFinalizedHeads');
  await follow(api, 'subscribeNewHeads');
}
await api.disconnect();
}
console.log('ok');
process.exit(0);
