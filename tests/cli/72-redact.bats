#!/usr/bin/env bats
# 72-redact.bats: no credential in any message. Every tool that takes a URI (mno-dump --source
# and --hub, mno-restore --target, mno-verify --target and --source) is run with each
# credential form libpq and libmongoc accept, against a server that is absent (a port where
# nothing listens) or that refuses the URI, and stdout+stderr are searched for every piece of
# the secret. Every secret below holds "Secr3t" or "Tok3n" (searched in any case: libmongoc
# lowercases host names).

bats_require_minimum_version 1.5.0

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
  cp "$MNO_TOP/tests/cli/10-cat/hub.mnoa" "$MNO_TOP/tests/cli/10-cat/connec.mnoa" .
  printf 'public.orgs: root uid\n' >pg.scope
}

# leaks: fails when $output holds a secret (shown), or when the run did not exit 2
no_leak() {
  [ "$status" -eq 2 ] || { echo "exit $status: $output"; return 1; }
  if printf '%s' "$output" | grep -qiE 'secr3t|tok3n'; then
    echo "leaked: $output"
    return 1
  fi
}

# the PostgreSQL forms; nothing listens on port 1
pg_uris() {
  cat <<'EOF'
postgresql://u:aa@bPg-Secr3t-88@127.0.0.1:1/db
postgresql://u:a@b@c@Pg-Secr3t-77@127.0.0.1:1/db
postgresql://u:Pg/Secr3t+x==@127.0.0.1:1/db
postgresql://u:Pg?Secr3t#x@127.0.0.1:1/db
postgresql://u:Pg%40Secr3t@127.0.0.1:1/db?connect_timeout=5
postgresql://u@127.0.0.1:1/db?PASSWORD=Pg-Secr3t-1
postgresql://u@127.0.0.1:1/db?Password=Pg-Secr3t-2&sslmode=disable
postgresql://u@127.0.0.1:1/db?sslpassword=Pg-Secr3t-3
postgresql://u@127.0.0.1:1/db?SSLPASSWORD=Pg-Secr3t-4
postgresql://u@127.0.0.1:1/db?pass%77ord=Pg-Secr3t-5
postgresql://u@127.0.0.1:1/db?password=Pg-Secr3t-6&password=Pg-Secr3t-7
postgres://u:Pg-Secr3t-8@127.0.0.1:1/db
postgrsql://u:Pg-Secr3t-9@127.0.0.1:1/db
host=127.0.0.1 port=1 password=Pg-Secr3t-10
host=127.0.0.1 port=1 PASSWORD='Pg Secr3t 11'
host=127.0.0.1 port=1 sslpassword = 'Pg\'Secr3t\\12'
host=127.0.0.1 port=1 passwrd=Pg-Secr3t-13
host=127.0.0.1 port=1 dbname='postgresql://u:Pg-Secr3t-14@127.0.0.1:1/x'
host=127.0.0.1 port=1 dbname='user=u password=Pg-Secr3t-15'
EOF
}

# the MongoDB forms; nothing listens on port 1
mongo_uris() {
  cat <<'EOF'
mongodb://u:aa@bMg-Secr3t-88@127.0.0.1:1/db?serverSelectionTimeoutMS=300
mongodb://u:a@b:c@Mg-Secr3t-77@127.0.0.1:1/db?serverSelectionTimeoutMS=300
mongodb://u:Mg/Secr3t@127.0.0.1:1/db?serverSelectionTimeoutMS=300
mongodb://u:Mg?Secr3t@127.0.0.1:1/db?serverSelectionTimeoutMS=300
mongodb://u:Mg%40Secr3t@127.0.0.1:1/db?serverSelectionTimeoutMS=300
mongodb://u@127.0.0.1:1/db?serverSelectionTimeoutMS=300&PASSWORD=Mg-Secr3t-1
mongodb://u:p@127.0.0.1:1/db?serverSelectionTimeoutMS=300&tlsCertificateKeyFilePassword=Mg-Secr3t-2
mongodb://u:p@127.0.0.1:1/db?serverSelectionTimeoutMS=300&tls=true&tlsCertificateKeyFile=/nonexistent&tlsCertificateKeyFilePassword=Mg-Secr3t-3
mongodb://u:p@127.0.0.1:1/db?serverSelectionTimeoutMS=300&sslClientCertificateKeyPassword=Mg-Secr3t-4
mongodb://u:p@127.0.0.1:1/db?serverSelectionTimeoutMS=300&authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:Mg-Tok3n-5
mongodb://u:p@127.0.0.1:1/db?serverSelectionTimeoutMS=300&authmechanismproperties=SERVICE_NAME:Mg-Secr3t-6
mongodb+srv://u:Mg-Secr3t-7@nonexistent.invalid/db
mongodb://u:Mg-Secr3t-8@127.0.0.1:1,127.0.0.1:2/db?serverSelectionTimeoutMS=300&replicaSet=rs
EOF
}

@test "redact: mno-dump --source, every PostgreSQL credential form, server absent" {
  while IFS= read -r u; do
    run mno-dump --source "$u" --tenant acme --scope pg.scope -o out.mnoa
    no_leak
    [[ "$output" == "mno-dump: error: "* ]]
  done < <(pg_uris)
  [ ! -e out.mnoa ]
}

@test "redact: mno-dump --source and --hub, every MongoDB credential form, server absent" {
  while IFS= read -r u; do
    run mno-dump --source "$u" --all -o out.mnoa
    no_leak
  done < <(mongo_uris)
  # the hub (PostgreSQL) of a MongoDB dump
  while IFS= read -r u; do
    run mno-dump --source "mongodb://127.0.0.1:1/db?serverSelectionTimeoutMS=300" --tenant acme --hub "$u" -o out.mnoa
    no_leak
  done < <(pg_uris)
}

@test "redact: mno-restore --target, every credential form, server absent" {
  while IFS= read -r u; do
    run mno-restore --target "$u" hub.mnoa
    no_leak
  done < <(pg_uris)
  while IFS= read -r u; do
    run mno-restore --target "$u" connec.mnoa
    no_leak
  done < <(mongo_uris)
}

@test "redact: mno-verify --target and --source, every credential form, server absent" {
  while IFS= read -r u; do
    run mno-verify --archive hub.mnoa --target "$u"
    no_leak
    run mno-verify --source "$u" --tenant acme --scope pg.scope --target "$u"
    no_leak
  done < <(pg_uris)
  while IFS= read -r u; do
    run mno-verify --archive connec.mnoa --target "$u"
    no_leak
  done < <(mongo_uris)
}

@test "redact: URIs from the environment (MNO_SOURCE, MNO_TARGET) alike" {
  MNO_SOURCE='postgresql://u:aa@bPg-Secr3t-88@127.0.0.1:1/db' run mno-dump --tenant acme --scope pg.scope
  no_leak
  MNO_TARGET='mongodb://u:aa@bMg-Secr3t-88@127.0.0.1:1/db?serverSelectionTimeoutMS=300' run mno-restore connec.mnoa
  no_leak
  MNO_TARGET='postgresql://u@127.0.0.1:1/db?PASSWORD=Pg-Secr3t-1' run mno-verify --archive hub.mnoa
  no_leak
}

@test "redact: the pieces are replaced, the rest of the message kept: host echoes from libpq and libmongoc" {
  run mno-dump --source 'postgresql://u:aa@bPg-Secr3t-88@127.0.0.1:1/db' --tenant acme --scope pg.scope
  no_leak
  [[ "$output" == "mno-dump: error: cannot connect to postgresql at 'postgresql://u@127.0.0.1:1/db': could not translate host name \"***@127.0.0.1\" to address: "* ]]
  run mno-restore --target 'mongodb://u:aa@bMg-Secr3t-88@127.0.0.1:1/db?serverSelectionTimeoutMS=300' connec.mnoa
  no_leak
  [[ "$output" == "mno-restore: error: "*"'mongodb://u@127.0.0.1:1/db?serverSelectionTimeoutMS=300'"*"'***@127.0.0.1'"* ]]
  run mno-verify --archive hub.mnoa --target 'postgresql://u@127.0.0.1:1/db?PASSWORD=Pg-Secr3t-1&sslmode=disable'
  no_leak
  [ "$output" = "mno-verify: error: cannot connect to postgresql at 'postgresql://u@127.0.0.1:1/db?sslmode=disable': invalid URI query parameter: \"PASSWORD\"" ]
}

@test "redact: a server that is up but refuses the URI: nothing of the secret either" {
  # the test cluster, reached with a password whose tail after '@' is taken for the host
  base=${MNO_TEST_PG_URI#postgresql://}
  hostpart=${base#*@}
  run mno-dump --source "postgresql://postgres:aa@bPg-Secr3t-88@$hostpart" --tenant acme --scope pg.scope
  no_leak
  run mno-restore --target "${MNO_TEST_PG_URI}?sslpassword=Pg-Secr3t-3&PASSWORD=Pg-Secr3t-1" hub.mnoa
  no_leak
  # the MongoDB test server: an unknown option holding a secret, a bad auth mechanism
  m=${MNO_TEST_MONGO_URI%/}
  run mno-restore --target "$m/db?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:Mg-Tok3n-5" connec.mnoa
  no_leak
  run mno-verify --archive connec.mnoa --target "${m/mongodb:\/\//mongodb://u:aa@bMg-Secr3t-88@}/db?serverSelectionTimeoutMS=300"
  no_leak
}
