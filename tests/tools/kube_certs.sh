#!/bin/sh
# Generates the TLS material of the fake Kubernetes API server tests into DIR:
#   ca.crt ca.key                 test CA
#   server.crt server.key         server certificate, SAN IP:127.0.0.1, IP:::1, DNS:localhost
#   client.crt client.key         client certificate (CN podprof-test, O system:masters)
#   rogue-ca.crt rogue-client.crt rogue-client.key
#                                 a client certificate from another CA (must be refused)
# EC P-256 keys: quick to make, accepted by Go, libcurl and Python.
# Idempotent and safe to run concurrently: the set is made in a temporary directory and
# renamed into place; an existing complete set is kept. Keys stay in the build tree.
# Usage: kube_certs.sh DIR
set -eu

dir=${1:?usage: kube_certs.sh DIR}
if [ -f "$dir/complete" ]; then
    # Regenerate when the server certificate expires within a day.
    if openssl x509 -checkend 86400 -noout -in "$dir/server.crt" >/dev/null 2>&1; then
        exit 0
    fi
    rm -rf "$dir"
fi

parent=$(dirname "$dir")
mkdir -p "$parent"
tmp=$(mktemp -d "$parent/.kube-certs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
        -out "$1.crt" 2>/dev/null
}

leaf() { # name ca subject extfile
    key "$1.key"
    openssl req -new -key "$1.key" -subj "$3" -out "$1.csr" 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial \
        -sha256 -days 825 -extfile "$4" -out "$1.crt" 2>/dev/null
    rm -f "$1.csr"
}

ca ca "/CN=podprof-test-ca"
ca rogue-ca "/CN=rogue-ca"

cat >server.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost
EOF
cat >client.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EOF

leaf server ca "/CN=kube-apiserver" server.ext
leaf client ca "/O=system:masters/CN=podprof-test" client.ext
leaf rogue-client rogue-ca "/O=system:masters/CN=rogue" client.ext
rm -f ./*.ext ./*.srl rogue-ca.key
chmod 600 ./*.key
touch complete

cd /
if mv -T "$tmp" "$dir" 2>/dev/null; then
    trap - EXIT
fi
# Another run may have won the race; its set is as good as ours.
[ -f "$dir/complete" ]
