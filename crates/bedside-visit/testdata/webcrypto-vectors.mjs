// Computes the call-auth known-answer vectors with WebCrypto (node testdata/webcrypto-vectors.mjs).
const { subtle } = globalThis.crypto;
const enc = new TextEncoder();
const hex = b => Buffer.from(b).toString('hex');
async function hkdf(ikm, info) {
  const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({name:'HKDF', hash:'SHA-256', salt:new Uint8Array(0), info}, k, 256));
}
function lp(fields){ const parts=[]; for(const f of fields){ const l=new Uint8Array(4); new DataView(l.buffer).setUint32(0,f.length); parts.push(l,f);} const n=parts.reduce((a,p)=>a+p.length,0); const o=new Uint8Array(n); let i=0; for(const p of parts){o.set(p,i);i+=p.length;} return o;}
const secret = Uint8Array.from({length:32},(_,i)=>i);
const knock = await hkdf(secret, enc.encode('bedside knock v1'));
const auth = await hkdf(secret, enc.encode('bedside sdp-auth v1'));
const hk = await subtle.importKey('raw', auth, {name:'HMAC', hash:'SHA-256'}, false, ['sign']);
const tag = new Uint8Array(await subtle.sign('HMAC', hk, lp([enc.encode('offer'), new Uint8Array(16).fill(0xAA), enc.encode('device-1'), enc.encode('sha-256 AB:CD:EF:01'), enc.encode('abcd')])));
const a='sha-256 11:22:33:44', b='sha-256 AB:CD:EF:01';
const [x,y] = a<=b?[a,b]:[b,a];
const info = new Uint8Array([...enc.encode('bedside sas v1'), ...enc.encode(x), 0, ...enc.encode(y)]);
const okm = await hkdf(secret, info);
const n = new DataView(okm.buffer).getUint32(0) % 1000000;
console.log(`knock=${hex(knock)}\nauth=${hex(auth)}\noffer_tag=${hex(tag)}\nsas=${String(Math.floor(n/1000)).padStart(3,'0')} ${String(n%1000).padStart(3,'0')}`);
const kk = await subtle.importKey('raw', knock, 'AES-GCM', false, ['encrypt']);
const aad = new Uint8Array([...enc.encode('bedside knock v1'), ...new Uint8Array(16).fill(0xAA)]);
const iv = new Uint8Array(12).fill(7);
const ct = new Uint8Array(await subtle.encrypt({name:'AES-GCM', iv, additionalData: aad}, kk, enc.encode('{"name":"Zoë"}')));
console.log(`sealed_knock=${hex(iv)}${hex(ct)}`);
