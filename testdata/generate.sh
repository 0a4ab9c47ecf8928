#!/usr/bin/env bash
# Regenerates testdata/: sample envelopes in every form waxseal and OpenSSL write, and the
# certificates and CRLs behind them. They seed the fuzzers (fuzz/) and the corpus replay
# test; no test depends on the real clock (tests make fresh PKIs at run time). The fuzz
# harnesses verify at FIXED_TIME (fuzz/harness.rs), which must fall inside the validity of
# what this writes: update it after regenerating (crates/envelope/tests/fuzz_corpus.rs
# checks that it does).
# Needs a release build of waxseal and the openssl command.
set -euo pipefail
cd "$(dirname "$0")"
W=${WAXSEAL:-../target/release/waxseal}
rm -rf pki envelopes x509
mkdir -p envelopes x509
"$W" speed --seconds 0.01 --algorithm all --export pki > /dev/null
for alg in rsa2048 p256 p384 ed25519; do
  d=pki/$alg
  chmod 600 "$d/leaf.key"
  s() { "$W" sign --cert "$d/leaf.pem" --key "$d/leaf.key" --chain "$d/ca.pem" --in "$d/payload.bin" "$@"; }
  s --out "envelopes/$alg-attached.der"
  s --detached --out "envelopes/$alg-detached.der"
  s --outform pem --out "envelopes/$alg-attached.pem"
  s --outform smime --out "envelopes/$alg-opaque.eml"
  s --detached --outform smime --out "envelopes/$alg-multipart.eml"
  s --no-attrs --no-certs --out "envelopes/$alg-noattrs-nocerts.der"
  s --signer-id ski --out "envelopes/$alg-ski.der"
  openssl x509 -in "$d/leaf.pem" -outform DER -out "x509/$alg-leaf.der"
  openssl x509 -in "$d/ca.pem" -outform DER -out "x509/$alg-ca.der"
  openssl crl -in "$d/crl.pem" -outform DER -out "x509/$alg-ca.crl"
done
d=pki/rsa2048
o() { openssl cms -sign -binary -signer "$d/leaf.pem" -inkey "$d/leaf.key" -certfile "$d/ca.pem" -in "$d/payload.bin" "$@"; }
o -nodetach -stream -outform DER -out envelopes/openssl-stream-ber.der
o -nodetach -outform PEM -out envelopes/openssl-attached.pem
o -outform SMIME -out envelopes/openssl-multipart.eml
o -nodetach -noattr -nocerts -nosmimecap -md sha256 -outform DER -out envelopes/openssl-keystone-token.der
o -nodetach -keyid -keyopt rsa_padding_mode:pss -outform DER -out envelopes/openssl-keyid-pss.der
openssl cms -sign -binary -nodetach -signer "$d/leaf.pem" -inkey "$d/leaf.key" \
  -signer pki/p256/leaf.pem -inkey pki/p256/leaf.key -in "$d/payload.bin" -outform DER -out envelopes/openssl-two-signers.der
# Routing slips: hops countersigning hops (RFC 5652 §11.4), in three algorithms.
cs() { "$W" countersign --cert "pki/$1/leaf.pem" --key "pki/$1/leaf.key" --role "$1" --action forwarded "${@:2}"; }
cs p256 --in envelopes/rsa2048-attached.der --out envelopes/slip-2hops.der
cs ed25519 --in envelopes/slip-2hops.der --out envelopes/slip-3hops.der
cs p384 --outform pem --in envelopes/slip-3hops.der --out envelopes/slip-4hops.pem
cs p256 --in envelopes/rsa2048-detached.der --out envelopes/slip-detached-2hops.der
# Bus messages: fedmsg-style and oslo envelopes (the message fuzzer's seeds).
rm -rf messages && mkdir -p messages
p=pki/p256
echo '{"topic": "org.example.prod.bodhi.update.comment", "msg": {"text": "LGTM", "karma": 1}}' > messages/fedmsg-unsigned.json
echo '{"method": "select_destinations", "args": {"host": "p256.example.org"}, "version": "4.3"}' > messages/rpc.json
"$W" msg sign --cert $p/leaf.pem --key $p/leaf.key --chain $p/ca.pem --in messages/fedmsg-unsigned.json --out messages/fedmsg-signed.json
"$W" msg sign --oslo --topic scheduler --cert $p/leaf.pem --key $p/leaf.key --chain $p/ca.pem --in messages/rpc.json --out messages/oslo-signed.json
"$W" msg countersign --cert $p/leaf.pem --key $p/leaf.key --role conductor --in messages/oslo-signed.json --out messages/oslo-2hops.json
echo "testdata regenerated: $(ls envelopes | wc -l) envelopes, $(ls x509 | wc -l) certificates and CRLs, $(ls messages | wc -l) messages"
