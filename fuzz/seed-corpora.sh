#!/usr/bin/env bash
# Writes the seed corpora of the parser targets (key_parse, pem_bundle, store_load,
# time_parse, dn_parse, bus_config, registry, pki_inventory, pki_seed, service_host,
# countersign, msg_countersign, timestamp_token) from testdata/ and by hand. Each file is named by the
# SHA-1 of its content, as libFuzzer names what it adds; rerunning adds nothing twice.
# Needs the openssl command.
set -euo pipefail
cd "$(dirname "$0")"
T=../testdata
C=corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

add() { # add TARGET FILE
  mkdir -p "$C/$1"
  cp "$2" "$C/$1/$(sha1sum "$2" | cut -c1-40)"
}
text() { # text TARGET STRING
  printf '%s' "$2" > "$tmp/t"
  add "$1" "$tmp/t"
}

# Keys: PKCS #8 PEM and DER, PKCS #1 (RSA), SEC1 (EC), and broken ones.
for alg in rsa2048 p256 p384 ed25519; do
  k=$T/pki/$alg/leaf.key
  add key_parse "$k"
  openssl pkey -in "$k" -outform DER -out "$tmp/k.der" && add key_parse "$tmp/k.der"
  head -c 100 "$k" > "$tmp/trunc" && add key_parse "$tmp/trunc"
done
openssl pkey -in $T/pki/rsa2048/leaf.key -traditional -out "$tmp/rsa1.pem" && add key_parse "$tmp/rsa1.pem"
openssl rsa -in $T/pki/rsa2048/leaf.key -outform DER -traditional -out "$tmp/rsa1.der" 2>/dev/null && add key_parse "$tmp/rsa1.der"
for alg in p256 p384; do
  openssl ec -in $T/pki/$alg/leaf.key -out "$tmp/sec1.pem" 2>/dev/null && add key_parse "$tmp/sec1.pem"
  openssl ec -in $T/pki/$alg/leaf.key -outform DER -out "$tmp/sec1.der" 2>/dev/null && add key_parse "$tmp/sec1.der"
done
add key_parse $T/pki/p256/leaf.pem
text key_parse $'-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIBvTBXBgkqhkiG9w0BBQ0wSjApBgkqhkiG9w0BBQwwHAQI\n-----END ENCRYPTED PRIVATE KEY-----\n'
text key_parse $'-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n'
text key_parse ''

# Certificate and CRL bundles: PEM (one, several, mixed), DER, and broken ones.
for alg in rsa2048 p256 p384 ed25519; do
  d=$T/pki/$alg
  for f in root.pem ca.pem leaf.pem crl.pem; do add pem_bundle "$d/$f"; done
  cat "$d/leaf.pem" "$d/ca.pem" "$d/root.pem" > "$tmp/chain" && add pem_bundle "$tmp/chain"
  cat "$d/crl.pem" "$d/ca.pem" > "$tmp/mixed" && add pem_bundle "$tmp/mixed"
  add pem_bundle "$T/x509/$alg-leaf.der"
  add pem_bundle "$T/x509/$alg-ca.crl"
done
sed 's/^MII/MIX/' $T/pki/p256/ca.pem > "$tmp/bad" && add pem_bundle "$tmp/bad"
text pem_bundle $'-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n'
text pem_bundle $'-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n-----BEGIN CERTIFICATE-----\n'

# Store folders: parts separated by lines of %% (see the harness).
for alg in p256 rsa2048; do
  d=$T/pki/$alg
  { cat "$d/root.pem"; printf '\n%%%%\n'; cat "$d/ca.pem"; printf '\n%%%%\n'; cat "$d/crl.pem"; } > "$tmp/f1"
  add store_load "$tmp/f1"
  { cat "$T/x509/$alg-ca.der"; printf '\n%%%%\n'; cat "$T/x509/$alg-ca.crl"; } > "$tmp/f2"
  add store_load "$tmp/f2"
done
add store_load $T/pki/p384/crl.pem
text store_load $'not a certificate\n%%\n-----BEGIN CERTIFICATE-----\n'
text store_load ''

# Times.
for t in 2026-11-22T10:00:00Z '2026-11-22 10:00:00Z' 2026-11-22T10:00:00+05:30 \
         2026-11-22T10:00:00-01:00 1970-01-01T00:00:00Z 9999-12-31T23:59:59Z \
         1969-12-31T23:59:59Z 2026-02-30T00:00:00Z 'Æ00000' '+00:00' yesterday \
         2026-11-22T10:00:00.123456789Z 2026-11-22T25:00:00Z; do
  text time_parse "$t"
done

# Distinguished names (RFC 4514).
for n in 'CN=bodhi-app01.example.org,O=Example' 'CN=a\,b,O=x\+y' 'CN=#0403414243' \
         'CN=\0Anewline,O=x' 'CN=J\C3\BCrgen' 'O=Example+OU=Ops,C=US' '' '=' 'CN=' \
         'CN=a,,O=b' '1.2.3.4=#0500' 'CN= spaced \ ' 'cn=lower,dc=example,dc=org'; do
  text dn_parse "$n"
done

# Service-host names.
for n in bodhi-app01.example.org fas-app02.example.org compute-node01.example.org \
         bodhi-localhost bodhi- -app01.example.org 'bodhi-app01..example.org' \
         'bodhi-APP01.Example.ORG' "bodhi-$(printf 'a%.0s' {1..70}).example.org" \
         'bodhi-app01.example.org.' 'bodhi-ÆØ.example.org' 'x-1.2.3.4' ''; do
  text service_host "$n"
done

# PKI seeds and inventories.
text pki_seed '{}'
text pki_seed '{"country": "US", "organization": "Example", "organizational_unit": "Ops"}'
text pki_seed '{"country": "us", "state": "", "locality": "a\\nb"}'
text pki_seed '{"organization": "A, B + C; <D>", "locality": "#x"}'
text pki_seed '{"unknown": 1}'
text pki_seed '[]'
tmpd=$tmp/pki
W=${WAXSEAL:-../target/debug/waxseal}
if [ -x "$W" ]; then
  "$W" pki init --dir "$tmpd" > /dev/null
  "$W" pki issue --dir "$tmpd" bodhi-app01.example.org fas-app02.example.org > /dev/null
  "$W" pki revoke --dir "$tmpd" --reason keyCompromise fas-app02.example.org > /dev/null
  add pki_inventory "$tmpd/inventory.json"
  sed 's/"revoked_at": "[^"]*"/"revoked_at": "Æ00000"/' "$tmpd/inventory.json" > "$tmp/inv" && add pki_inventory "$tmp/inv"
  sed 's/"serial": "[^"]*"/"serial": "zz"/' "$tmpd/inventory.json" > "$tmp/inv" && add pki_inventory "$tmp/inv"
fi
text pki_inventory '{}'
text pki_inventory '{"format": 1, "algorithm": "p256", "entries": []}'

# Registries (entity pinning).
text registry '{"entities": {}}'
text registry '{"entities": {"bodhi-app01.example.org": {"certificates": ["sha256:00"], "keys": []}}}'
text registry '{"entities": {"x": {"certificates": ["not hex"]}}}'
text registry '[1, 2]'

# Bus configurations (file paths are replaced by the harness).
text bus_config '{"trust": ["root.pem"], "routing_policy": {"org.example.prod.bodhi.*": ["speed-*"], "scheduler": ["speed-*"]}, "claims": [{"topic": "scheduler", "pointer": "/args/host", "field": "host"}], "unsigned_topics": ["org.example.prod.heartbeat"], "route": {"max_hops": 8}}'
text bus_config '{"trust": ["root.pem"], "entity_rules": [{"source": "cn", "pattern": "^(?P<service>[a-z]+)-(?P<host>.+)$", "id": "{service}-{host}"}], "nitpicky": true}'
text bus_config '{"trust": ["root.pem"], "routing_policy": {"a.#": ["*"], "[": ["x"]}, "claims": [{"topic": "#", "pointer": "no-slash", "field": "host"}]}'
text bus_config '{"trust": ["root.pem"], "claims": [{"topic": "t", "pointer": "/a~2b/~0/~1", "field": "service"}]}'
text bus_config '{"validate_signatures": false, "sign_messages": false}'
text bus_config '{"trust": [], "bogus": 1}'
text bus_config '{"trust": ["root.pem"], "route": {"itinerary": ["a", "b"], "required": ["b"], "max_age_secs": 60}}'

# Countersigning: envelopes and slips (waxseal countersign), oslo envelopes (msg countersign).
for f in rsa2048-attached.der p256-detached.der slip-2hops.der slip-3hops.der slip-4hops.pem \
         openssl-two-signers.der ed25519-noattrs-nocerts.der; do
  add countersign "$T/envelopes/$f"
done
for f in "$T"/messages/*.json; do add msg_countersign "$f"; done
text msg_countersign '{"oslo.version": "2.0", "oslo.message": "{}"}'
text msg_countersign '{"oslo.version": "2.0", "oslo.message": "{}", "oslo.signature": "!!"}'

# ML-DSA (FIPS 204): RFC 9881's keys in the seed, expandedKey and both forms, the
# inconsistent ones, truncated and retagged ones, its public keys and certificates (PEM and
# DER), and RFC 9882's SignedData examples (testdata/mldsa/, see its README.waxseal).
for f in "$T"/mldsa/*.priv; do
  add key_parse "$f"
  grep -v -- '-----' "$f" | base64 -d > "$tmp/k.der" && add key_parse "$tmp/k.der"
  head -c 60 "$tmp/k.der" > "$tmp/trunc" && add key_parse "$tmp/trunc"
done
# The seed form with the CHOICE tag [0] (0x80) changed to [1] (0x81).
grep -v -- '-----' "$T/mldsa/ML-DSA-65-seed.priv" | base64 -d | sed 's/\x80\x20/\x81\x20/' > "$tmp/k.der"
add key_parse "$tmp/k.der"
for f in "$T"/mldsa/*.crt "$T"/mldsa/*.pub; do
  add pem_bundle "$f"
  grep -v -- '-----' "$f" | base64 -d > "$tmp/c.der"
  add x509_parse "$tmp/c.der"
done
for f in "$T"/mldsa/rfc9882-*.pem; do
  add envelope_verify "$f"
  add countersign "$f"
done

# RFC 3161: OpenSSL as the TSA (a TSA PKI made here, timeStamping critical and alone):
# replies with and without the TSA's certificate, ESSCertID (SHA-1) and ESSCertIDv2
# (SHA-256), the tokens alone, a refused reply, and truncated ones.
ts=$tmp/tsa
mkdir -p "$ts"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ts/root.key" \
  -subj /CN=fuzz-tsa-root -days 36500 -out "$ts/root.pem" 2> /dev/null
printf 'extendedKeyUsage=critical,timeStamping\n' > "$ts/ext"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ts/tsa.key" \
  -subj /CN=fuzz-tsa -out "$ts/tsa.csr" 2> /dev/null
openssl x509 -req -in "$ts/tsa.csr" -CA "$ts/root.pem" -CAkey "$ts/root.key" -days 36500 \
  -extfile "$ts/ext" -out "$ts/tsa.pem" 2> /dev/null
cat > "$ts/tsa.cnf" << CNF
[ tsa ]
default_tsa = t
[ t ]
serial = $ts/serial
signer_cert = $ts/tsa.pem
signer_key = $ts/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
ess_cert_id_alg = sha1
CNF
echo 01 > "$ts/serial"
printf 'signature' > "$ts/data"
for certs in -cert -no_nonce; do
  openssl ts -query -data "$ts/data" -sha256 $certs -out "$ts/q" 2> /dev/null
  openssl ts -reply -config "$ts/tsa.cnf" -queryfile "$ts/q" -out "$ts/r" 2> /dev/null
  add timestamp_token "$ts/r"
  openssl ts -reply -config "$ts/tsa.cnf" -queryfile "$ts/q" -token_out -out "$ts/t" 2> /dev/null
  add timestamp_token "$ts/t"
  head -c 200 "$ts/t" > "$ts/trunc" && add timestamp_token "$ts/trunc"
done
sed -i 's/ess_cert_id_alg = sha1/ess_cert_id_alg = sha256/' "$ts/tsa.cnf"
openssl ts -query -data "$ts/data" -sha256 -cert -out "$ts/q" 2> /dev/null
openssl ts -reply -config "$ts/tsa.cnf" -queryfile "$ts/q" -token_out -out "$ts/t" 2> /dev/null
add timestamp_token "$ts/t"
# A query is not a reply; an empty input.
add timestamp_token "$ts/q"
text timestamp_token ''
