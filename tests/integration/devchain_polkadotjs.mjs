// Drives tfchain-dev with @polkadot/api, an independent Substrate client:
// metadata decoding, System.Account, a signed mortal transfer and its
// events, a failing transfer resolved to its module error by name.
// Usage: node devchain_polkadotjs.mjs PORT (run by test_devchain_polkadotjs.sh).
import { ApiPromise, HttpProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady } from '@polkadot/util-crypto';

const fail = (msg) => { console.log('FAIL: ' + msg); process.exit(1); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await cryptoWaitReady();
const api = await ApiPromise.create({
  provider: new HttpProvider(`http://127.0.0.1:${process.argv[2]}`), noInitWarn: true });
const names = api.runtimeMetadata.asLatest.pallets.map((p) => p.name.toString());
for (const p of ['System', 'Timestamp', 'Balances', 'TfgridModule', 'SmartContractModule']) if (!names.includes(p)) fail(`no pallet ${p}`);

const kr = new Keyring({ type: 'ed25519', ss58Format: 42 });
const alice = kr.addFromUri('//Alice'), dest = kr.addFromUri('//PolkadotJsTest');
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
if (d.data.free.toString() !== '12345678') fail(`destination holds ${d.data.free}`);

const bad = await api.tx.balances.transferKeepAlive(dest.address, '100000000000000000000')
  .signAsync(alice, { nonce: -1 });
const h2 = (await api.rpc.author.submitExtrinsic(bad)).toHex();
const failed = (await eventsOf(h2)).find((e) => api.events.system.ExtrinsicFailed.is(e.event));
if (!failed) fail('no ExtrinsicFailed');
const err = api.registry.findMetaError(failed.event.data[0].asModule);
if (`${err.section}.${err.name}` !== 'balances.InsufficientBalance') fail(`error ${err.section}.${err.name}`);
try { await api.rpc.author.submitExtrinsic(bad); fail('stale resubmission accepted'); }
catch (e) { if (!String(e.message).includes('1010')) fail(`resubmission: ${e.message}`); }
console.log('ok');
await api.disconnect();
process.exit(0);
