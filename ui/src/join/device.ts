// The device key that binds this browser to the visit.
//
// An ECDSA P-256 key pair (supported by WebCrypto in Chromium, Firefox and
// Safari) made with `extractable: false`, so no script — ours included — can
// read the private half; it can only sign. The pair is kept in IndexedDB
// (CryptoKey objects are structured-cloneable), one per visit so that two
// visits cannot be linked by their device ids. The device id is
// base64url(SHA-256(raw public key)); the relay checks that, and that the
// page signs its fresh nonce (crypto.ts: deviceProofMessage) on every
// connection, so a reload or reconnect proves the same key.
//
// Specification and Rust verifier: crates/bedside-visit/src/device.rs.

import { b64url, deviceProofMessage } from './crypto';

/** What the session needs from the device key. */
export interface DeviceIdentity {
  /** base64url(SHA-256(publicKey)), 43 characters. */
  id: string;
  /** The raw 65-byte uncompressed public key. */
  publicKey: Uint8Array;
  /** False when the key lives only in memory (no IndexedDB). */
  persisted: boolean;
  /** Signs the relay's challenge for this visit: 64 bytes, r ‖ s. */
  prove(visit: Uint8Array, nonce: Uint8Array): Promise<Uint8Array>;
}

const DB = 'bedside-join';
const STORE = 'device-keys';
const ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('indexeddb'));
  });
}

async function openDb(idb: IDBFactory): Promise<IDBDatabase> {
  const open = idb.open(DB, 1);
  open.onupgradeneeded = () => {
    if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
  };
  return request(open);
}

function isPair(v: unknown): v is CryptoKeyPair {
  const p = v as CryptoKeyPair | undefined;
  return !!p && p.privateKey?.type === 'private' && p.publicKey?.type === 'public';
}

async function stored(idb: IDBFactory, name: string): Promise<CryptoKeyPair> {
  const db = await openDb(idb);
  try {
    const old: unknown = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(name));
    if (isPair(old)) return old;
    const pair = await crypto.subtle.generateKey(ALG, false, ['sign', 'verify']);
    // `add`, not `put`: if another tab stored a key meanwhile, keep theirs.
    try {
      await request(db.transaction(STORE, 'readwrite').objectStore(STORE).add(pair, name));
      return pair;
    } catch {
      const again: unknown = await request(db.transaction(STORE, 'readonly').objectStore(STORE).get(name));
      if (isPair(again)) return again;
      throw new Error('indexeddb');
    }
  } finally {
    db.close();
  }
}

/** The identity a key pair gives. */
export async function identityOf(pair: CryptoKeyPair, persisted: boolean): Promise<DeviceIdentity> {
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  const id = b64url(new Uint8Array(await crypto.subtle.digest('SHA-256', publicKey as BufferSource)));
  return {
    id,
    publicKey,
    persisted,
    prove: async (visit, nonce) =>
      new Uint8Array(
        await crypto.subtle.sign(
          { name: 'ECDSA', hash: 'SHA-256' },
          pair.privateKey,
          deviceProofMessage(visit, nonce) as BufferSource,
        ),
      ),
  };
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * This browser's key for the visit: from IndexedDB, or made and stored there.
 *
 * Without IndexedDB (some private modes, storage blocked, or tests) the key
 * is still non-extractable but lives only in memory: it binds this page
 * load, and a reload becomes a new device that the clinician admits again.
 * That is the safe direction — nothing weaker than a key is ever used.
 */
export async function deviceIdentity(visit: Uint8Array, idb: IDBFactory | null): Promise<DeviceIdentity> {
  if (idb) {
    try {
      return await identityOf(await stored(idb, hex(visit)), true);
    } catch {
      // IndexedDB present but refusing (quota, private mode): fall through.
    }
  }
  return identityOf(await crypto.subtle.generateKey(ALG, false, ['sign', 'verify']), false);
}
