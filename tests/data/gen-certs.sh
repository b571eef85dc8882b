#!/bin/sh
# gen-certs.sh DIR: test-only PKI (openssl CLI, EC P-256): ca, server (localhost,
# 127.0.0.1, ::1), other (other.test, *.other.test: SNI), client (EKU clientAuth),
# expired (localhost, Jan 2020), and bad client certificates for the origin
# authorization tests: client-expired (clientAuth, Jan 2020), client-self
# (self-signed), client-rogue (clientAuth from rogue-ca, another CA) as
# NAME.pem + NAME.key in DIR.
# Owns DIR's files; idempotent (a complete set is kept); quiet unless it fails.
# Never use these keys outside tests.
set -eu

if [ $# -ne 1 ]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"
cd "$dir"

all_present=yes
for f in ca server other client expired client-expired client-self rogue-ca client-rogue; do
  if [ ! -s "$f.pem" ] || [ ! -s "$f.key" ]; then all_present=no; fi
done
[ "$all_present" = yes ] && exit 0

umask 077
log=$(mktemp "${TMPDIR:-/tmp}/gen-certs.XXXXXX")
work=$(mktemp -d "${TMPDIR:-/tmp}/gen-certs-work.XXXXXX")
trap 'rm -rf "$work" "$log"' EXIT

run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "gen-certs.sh: failed: $*" >&2
    cat "$log" >&2
    exit 1
  fi
}

newkey() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# CA (regenerated with everything it signed when any file is missing).
newkey ca.key
cat >"$work/ca.cnf" <<'CNF'
[ req ]
distinguished_name = dn
x509_extensions = ca_ext
[ dn ]
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF
run openssl req -new -x509 -key ca.key -sha256 -days 3650 -subj "/CN=h2bridge test CA" \
  -config "$work/ca.cnf" -out ca.pem

# leaf NAME CN EKU SAN: a leaf signed by the CA, valid 825 days.
leaf() {
  newkey "$1.key"
  run openssl req -new -key "$1.key" -subj "/CN=$2" -config /dev/null -out "$work/$1.csr"
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature"
    echo "extendedKeyUsage = $3"
    echo "subjectKeyIdentifier = hash"
    echo "authorityKeyIdentifier = keyid"
    [ -n "$4" ] && echo "subjectAltName = $4"
  } >"$work/$1.ext"
  run openssl x509 -req -in "$work/$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -CAserial "$work/ca.srl" -sha256 -days 825 -extfile "$work/$1.ext" -out "$1.pem"
}

leaf server localhost serverAuth "DNS:localhost,IP:127.0.0.1,IP:::1"
leaf other other.test serverAuth "DNS:other.test,DNS:*.other.test"
leaf client "h2bridge test client" clientAuth ""

# Expired server cert: `openssl x509` of 3.0 cannot backdate, `openssl ca` can.
newkey expired.key
run openssl req -new -key expired.key -subj "/CN=localhost" -config /dev/null -out "$work/expired.csr"
: >"$work/index.txt"
cat >"$work/ca-db.cnf" <<CNF
[ ca ]
default_ca = test_ca
[ test_ca ]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
certificate = $PWD/ca.pem
private_key = $PWD/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = leaf_ext
[ any ]
commonName = supplied
[ leaf_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
[ client_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
CNF
echo 1000 >"$work/serial"
run openssl ca -batch -notext -config "$work/ca-db.cnf" -startdate 20200101000000Z \
  -enddate 20200201000000Z -in "$work/expired.csr" -out expired.pem
newkey client-expired.key
run openssl req -new -key client-expired.key -subj "/CN=expired client" -config /dev/null \
  -out "$work/client-expired.csr"
run openssl ca -batch -notext -config "$work/ca-db.cnf" -extensions client_ext -startdate 20200101000000Z \
  -enddate 20200201000000Z -in "$work/client-expired.csr" -out client-expired.pem

# Self-signed client certificate, and a client of another CA.
newkey client-self.key
run openssl req -new -x509 -key client-self.key -sha256 -days 825 -subj "/CN=self-signed client" \
  -config "$work/ca.cnf" -extensions client_ext -out client-self.pem
newkey rogue-ca.key
run openssl req -new -x509 -key rogue-ca.key -sha256 -days 3650 -subj "/CN=rogue CA" \
  -config "$work/ca.cnf" -out rogue-ca.pem
newkey client-rogue.key
run openssl req -new -key client-rogue.key -subj "/CN=rogue client" -config /dev/null -out "$work/client-rogue.csr"
printf 'basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\nextendedKeyUsage = clientAuth\n' \
  >"$work/client-rogue.ext"
run openssl x509 -req -in "$work/client-rogue.csr" -CA rogue-ca.pem -CAkey rogue-ca.key -CAcreateserial \
  -CAserial "$work/rogue.srl" -sha256 -days 825 -extfile "$work/client-rogue.ext" -out client-rogue.pem

chmod 644 ./*.pem
exit 0
