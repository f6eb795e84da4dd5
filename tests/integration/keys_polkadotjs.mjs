// Independent cross-check of zos-cli's keys against polkadot.js
// (@polkadot/keyring and @polkadot/util-crypto, pinned in pjs/package-lock.json).
//   node keys_polkadotjs.mjs cases N   prints test cases, one a line, tab separated:
//     key    SCHEME SURI ADDRESS           (polkadot.js's address of SURI)
//     pjssig SCHEME ADDRESS MSGHEX SIGHEX  (a signature polkadot.js made)
//     sign   SCHEME SURI ADDRESS MSGHEX    (for zos-cli to sign)
//   node keys_polkadotjs.mjs verify     reads "SCHEME ADDRESS MSGHEX SIGHEX" lines
//     (signatures zos-cli made) and exits 0 only if polkadot.js verifies them all.
import { Keyring } from '@polkadot/keyring';
import { cryptoWaitReady, mnemonicGenerate, signatureVerify, randomAsU8a } from '@polkadot/util-crypto';
import { u8aToHex } from '@polkadot/util';
import { readFileSync } from 'node:fs';

await cryptoWaitReady();
const mode = process.argv[2];

function pick(a) { return a[Math.floor(Math.random() * a.length)]; }
function word() { return Math.random().toString(36).slice(2, 2 + 1 + Math.floor(Math.random() * 8)); }

if (mode === 'cases') {
  const n = Number(process.argv[3] || 10);
  const out = [];
  const dev = 'bottom drive obey lake curtain smoke basket hold race lonely fit walk';
  for (let i = 0; i < n; i++) {
    const phrase = i === 0 ? dev : mnemonicGenerate(pick([12, 15, 18, 21, 24]));
    for (const scheme of ['sr25519', 'ed25519']) {
      // Junctions: names, numbers (u64 encoding) and a long one (hashed chain code).
      let path = '';
      const depth = Math.floor(Math.random() * 4);
      for (let d = 0; d < depth; d++) {
        const soft = scheme === 'sr25519' && Math.random() < 0.5;
        const j = pick([word(), String(Math.floor(Math.random() * 1e6)), 'x'.repeat(40), 'Alice', 'stash']);
        path += (soft ? '/' : '//') + j;
      }
      const pw = Math.random() < 0.4 ? '///' + word() : '';
      const suri = phrase + path + pw;
      const pair = new Keyring({ type: scheme, ss58Format: 42 }).addFromUri(suri);
      out.push(['key', scheme, suri, pair.address].join('\t'));
      const msg = randomAsU8a(1 + Math.floor(Math.random() * 300));
      out.push(['pjssig', scheme, pair.address, u8aToHex(msg), u8aToHex(pair.sign(msg))].join('\t'));
      out.push(['sign', scheme, suri, pair.address, u8aToHex(randomAsU8a(1 + Math.floor(Math.random() * 300)))].join('\t'));
    }
  }
  console.log(out.join('\n'));
} else if (mode === 'verify') {
  let bad = 0, n = 0;
  for (const line of readFileSync(0, 'utf8').split('\n').filter(Boolean)) {
    const [scheme, address, msg, sig] = line.split('\t');
    const r = signatureVerify(msg, sig, address);
    n++;
    if (!r.isValid || r.crypto !== scheme) { bad++; console.error('polkadot.js refused', line, r.crypto); }
    // A flipped bit must not verify either.
    const flipped = sig.slice(0, 10) + ((parseInt(sig[10], 16) ^ 1).toString(16)) + sig.slice(11);
    if (signatureVerify(msg, flipped, address).isValid) { bad++; console.error('flipped bit verified', line); }
  }
  console.log(`polkadot.js verified ${n} zos-cli signatures`);
  process.exit(bad ? 1 : 0);
} else {
  console.error('usage: keys_polkadotjs.mjs cases N | verify');
  process.exit(2);
}
