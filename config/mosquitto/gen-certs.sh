#!/bin/sh
# A private CA and a server certificate for Mosquitto's TLS listener (OpenSSL 1.1.1 or newer).
#
#   config/mosquitto/gen-certs.sh OUTDIR HOST [HOST...]
#
# HOSTs are the names and IP addresses clients use to reach the broker (subjectAltName). Writes into OUTDIR:
#   ca.crt      give to every client (mqtts://…?ca=ca.crt); it is public
#   ca.key      keep offline: whoever holds it can make certificates clients will trust
#   server.crt  server.key   for the broker (cafile, certfile, keyfile in mosquitto.conf)
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 OUTDIR HOST [HOST...]" >&2
    exit 2
fi
out=$1
shift
cn=$1
san=""
for host in "$@"; do
    case $host in
        *[!0-9.]*) case $host in *:*) san="$san,IP:$host" ;; *) san="$san,DNS:$host" ;; esac ;;
        *) san="$san,IP:$host" ;;
    esac
done
san=${san#,}

umask 077
mkdir -p "$out"
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
    -subj "/CN=WMS MQTT CA" -keyout "$out/ca.key" -out "$out/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 \
    -subj "/CN=$cn" -keyout "$out/server.key" -out "$out/server.csr" 2>/dev/null
cat > "$out/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
subjectAltName=$san
EXT
openssl x509 -req -in "$out/server.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" -CAcreateserial \
    -sha256 -days 825 -extfile "$out/server.ext" -out "$out/server.crt" 2>/dev/null
rm -f "$out/server.csr" "$out/server.ext" "$out/ca.srl"
chmod 0644 "$out/ca.crt" "$out/server.crt"
echo "wrote $out/ca.crt $out/ca.key $out/server.crt $out/server.key (subjectAltName $san)"
