#!/usr/bin/env bats
# 48-tenant-leaks.bats: no other tenant's row in a tenant's archive. The fixtures hold
# cross-tenant memberships, rows whose parent does not exist, and near-miss tenant values
# ('ACME', 'acme ', NULL, 'default'); every archived row's tenant is checked by following
# its links in SQL (48-tenant-leaks/*.sql), independently of the scope files. And mno-dump's
# own check: a parent link or declared foreign key that resolves to no row of the archive is
# an error (--plan names them too), a warning with --allow-dangling.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export D=$BATS_TEST_DIRNAME/48-tenant-leaks
  export HUB CONN
  HUB=$(pg_newdb leaks_hub)
  CONN=$(pg_newdb leaks_conn)
  "$MNO_TOP/tests/fixtures/load" mnohub "$HUB"
  "$MNO_TOP/tests/fixtures/load" connector "$CONN"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
}

# The rows of archive $2 that are not tenant $3's, by the checks of $D/$4 against source $1.
leaks() {
  {
    echo "CREATE TEMP TABLE arch (tb text, id bigint);"
    echo "COPY arch FROM STDIN;"
    jq -r 'select(.t == "rec") | [(.ns | sub("^public\\."; "")), .v.id] | @tsv' "$2"
    printf '\\.\n'
    cat "$D/$4"
  } | psql -X -q -At -F $'\t' -v ON_ERROR_STOP=1 -v t="$3" -d "$1"
}

# The archive's tables and their row counts, one "ns count" line each.
counts() { mno-cat --list "$1" | cut -f1,2 | tr '\t' ' '; }

@test "leaks: connector: every archived row is the tenant's, for every tenant; the near misses are nobody's" {
  for t in acme globex initech; do
    run mno-dump --quiet --source "$CONN" --tenant "$t" --scope "$MNO_TOP/filters/connector.scope" -o "$BATS_TEST_TMPDIR/$t.mnoa"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    run leaks "$CONN" "$BATS_TEST_TMPDIR/$t.mnoa" "$t" conn-leaks.sql
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    # every table has rows of the tenant
    [ "$(counts "$BATS_TEST_TMPDIR/$t.mnoa" | awk '$2 == 0' | wc -l)" = 0 ]
  done
  # the tenant 'ACME' (and 'acme ') are tenants of their own: acme's rows are not theirs
  run mno-dump --quiet --source "$CONN" --tenant ACME --scope "$MNO_TOP/filters/connector.scope" -o "$BATS_TEST_TMPDIR/ACME.mnoa"
  [ "$status" -eq 0 ]
  run leaks "$CONN" "$BATS_TEST_TMPDIR/ACME.mnoa" ACME conn-leaks.sql
  [ "$output" = "" ]
  [ "$(counts "$BATS_TEST_TMPDIR/ACME.mnoa" | tr '\n' ' ')" = "public.organizations 1 public.id_maps 1 public.synchronizations 0 public.users 1 public.user_organization_rels 0 " ]
}

@test "leaks: mnohub: every archived row is the tenant's, for every tenant" {
  for t in acme globex initech; do
    run mno-dump --quiet --source "$HUB" --tenant "$t" --scope "$MNO_TOP/filters/mnohub.scope" -o "$BATS_TEST_TMPDIR/$t.mnoa"
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
    run leaks "$HUB" "$BATS_TEST_TMPDIR/$t.mnoa" "$t" hub-leaks.sql
    [ "$status" -eq 0 ]
    [ "$output" = "" ]
  done
  # the cross-tenant membership and audit event are in no archive
  for t in acme globex; do
    ! jq -e 'select(.t == "rec" and .ns == "public.audit_events" and .v.key == "edge_cross")' "$BATS_TEST_TMPDIR/$t.mnoa"
  done
}

@test "leaks: the union-of-links scope (any line holds) leaks memberships: the dump refuses and names them" {
  sed 's/ and parent user_id -> public.users.id$//' "$MNO_TOP/filters/connector.scope" >"$BATS_TEST_TMPDIR/or.scope"
  echo 'public.user_organization_rels: parent user_id -> public.users.id' >>"$BATS_TEST_TMPDIR/or.scope"
  run mno-dump --quiet --source "$CONN" --tenant globex --scope "$BATS_TEST_TMPDIR/or.scope" -o "$BATS_TEST_TMPDIR/g.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: 2 dangling references: archived rows link to rows that are not in the archive (--allow-dangling writes it anyway):" ]
  [[ "${lines[1]}" =~ ^"  public.user_organization_rels (id)=("[0-9]+"): organization_id -> public.organizations.id: ("[0-9]+") is not in the archive"$ ]]
  [[ "${lines[2]}" =~ ^"  public.user_organization_rels (id)=("[0-9]+"): user_id -> public.users.id: ("[0-9]+") is not in the archive"$ ]]
  [ ! -e "$BATS_TEST_TMPDIR/g.mnoa" ] && [ ! -e "$BATS_TEST_TMPDIR/g.mnoa.partial" ]
  # --plan names them per link, exit 2
  run mno-dump --source "$CONN" --tenant globex --scope "$BATS_TEST_TMPDIR/or.scope" --plan
  [ "$status" -eq 2 ]
  [[ "$output" == *$'\nmno-dump: error: 2 rows of the plan link to rows that are not in it (--allow-dangling accepts them):\n  public.user_organization_rels: organization_id -> public.organizations.id: 1 row links to no row of the archive (first: ('* ]]
  [[ "$output" == *$'\n  public.user_organization_rels: user_id -> public.users.id: 1 row links to no row of the archive (first: ('* ]]
  # --allow-dangling: written, with the warning
  run mno-dump --quiet --allow-dangling --source "$CONN" --tenant globex --scope "$BATS_TEST_TMPDIR/or.scope" -o "$BATS_TEST_TMPDIR/g.mnoa"
  [ "$status" -eq 0 ]
  [ "${lines[0]}" = "mno-dump: warning: 2 dangling references: archived rows link to rows that are not in the archive:" ]
  run leaks "$CONN" "$BATS_TEST_TMPDIR/g.mnoa" globex conn-leaks.sql
  [ "${#lines[@]}" -eq 2 ]
  run mno-dump --allow-dangling --source "$CONN" --tenant globex --scope "$BATS_TEST_TMPDIR/or.scope" --plan
  [ "$status" -eq 0 ]
  [[ "$output" == *$'\nmno-dump: warning: 2 rows of the plan link to rows that are not in it:\n'* ]]
}

@test "leaks: --all: rows whose parent does not exist are dangling, also through a declared foreign key" {
  run mno-dump --quiet --source "$CONN" --all --scope "$MNO_TOP/filters/connector.scope" -o "$BATS_TEST_TMPDIR/all.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[0]}" = "mno-dump: error: 4 dangling references: archived rows link to rows that are not in the archive (--allow-dangling writes it anyway):" ]
  [[ "$output" == *": organization_id -> public.organizations.id: (999999) is not in the archive"* ]]
  [[ "$output" == *": user_id -> public.users.id: (999999) is not in the archive"* ]]
  # a declared foreign key is followed like a parent rule (a self-reference resolves later in its own section)
  db=$(pg_newdb leaks_fk)
  psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
CREATE TABLE t (id int PRIMARY KEY, tenant text);
CREATE TABLE c (id int PRIMARY KEY, t_id int REFERENCES t (id), up int REFERENCES c (id));
INSERT INTO t VALUES (1, 'a'), (2, 'b');
INSERT INTO c VALUES (5, 1, NULL), (3, 1, 5), (4, 2, NULL);
SQL
  printf 'public.t: root tenant\npublic.c: parent t_id -> public.t.id\n' >"$BATS_TEST_TMPDIR/fk.scope"
  run mno-dump --quiet --source "$db" --tenant a --scope "$BATS_TEST_TMPDIR/fk.scope" -o "$BATS_TEST_TMPDIR/fk.mnoa"
  [ "$status" -eq 0 ]
  psql -X -q -d "$db" -c "UPDATE c SET up = 4 WHERE id = 3"
  run mno-dump --quiet --source "$db" --tenant a --scope "$BATS_TEST_TMPDIR/fk.scope" -o "$BATS_TEST_TMPDIR/fk.mnoa"
  [ "$status" -eq 2 ]
  [ "${lines[1]}" = "  public.c (id)=(3): fk (up) -> public.c(id) (declared c_up_fkey): (4) is not in the archive" ]
}
