#!/usr/bin/env bats
# 23-rails.bats: the shipped scope files on real Rails schemas: the connector's schema.rb as
# Rails 4.2 creates it (tests/fixtures/rails/connector_schema.sql) with Rails' own
# schema_migrations and Rails 5's ar_internal_metadata, which the scopes mark skip (the target
# environment has its own): --all and --tenant dump, restore and verify.

setup_file() {
  export MNO_TOP=${MNO_TOP:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
  export PATH="$MNO_BIN:$PATH"
  . "$MNO_TOP/tests/lib/env.sh"
  export RSRC; RSRC=$(pg_newdb rails_connector)
  psql -X -q -v ON_ERROR_STOP=1 -d "$RSRC" -f "$MNO_TOP/tests/fixtures/rails/connector_schema.sql"
}

setup() {
  . "$MNO_TOP/tests/lib/env.sh"
  cd "$BATS_TEST_TMPDIR"
}

q() { psql -X -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

@test "rails: connector.scope dumps --all of the Rails 4.2 connector schema, Rails' own tables skipped; restore and verify" {
  run mno-dump --source "$RSRC" --scope "$MNO_TOP/filters/connector.scope" --all -o all.mnoa
  [ "$status" -eq 0 ]
  [ "$(mno-cat --list all.mnoa | cut -f1,2 | sort)" = "$(printf '%s\n' 'public.id_maps	2' 'public.organizations	3' \
      'public.synchronizations	2' 'public.user_organization_rels	3' 'public.users	2')" ]
  t=$(pg_newdb rails_all)
  mno-restore --quiet --target "$t" --create all.mnoa
  run mno-verify --archive all.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "$(q "$t" "SELECT to_regclass('public.schema_migrations') IS NULL AND to_regclass('public.ar_internal_metadata') IS NULL")" = t ]
}

@test "rails: connector.scope dumps --tenant acme; into a Rails-made schema (its own schema_migrations kept) restore and verify" {
  run mno-dump --source "$RSRC" --scope "$MNO_TOP/filters/connector.scope" --tenant acme -o acme.mnoa
  [ "$status" -eq 0 ]
  [ "$(mno-cat --list acme.mnoa | cut -f1,2 | sort)" = "$(printf '%s\n' 'public.id_maps	1' 'public.organizations	2' \
      'public.synchronizations	1' 'public.user_organization_rels	2' 'public.users	1')" ]
  t=$(pg_newdb rails_acme)
  pg_dump -s -d "$RSRC" | psql -X -q -v ON_ERROR_STOP=1 -d "$t" >/dev/null
  q "$t" "INSERT INTO schema_migrations VALUES ('20990101000000')" >/dev/null
  mno-restore --quiet --target "$t" acme.mnoa
  # the target's own schema_migrations is not the archive's: reported EXTRA unless --no-extra
  run mno-verify --archive acme.mnoa --target "$t"
  [ "$status" -eq 1 ]
  [[ "$output" == *$'\npublic.schema_migrations '*"EXTRA in target"* ]]
  run mno-verify --no-extra --archive acme.mnoa --target "$t"
  [ "$status" -eq 0 ]
  [ "$(q "$t" "SELECT string_agg(DISTINCT tenant, ',') FROM organizations")" = acme ]
  [ "$(q "$t" "SELECT string_agg(version, ',') FROM schema_migrations")" = 20990101000000 ]
}

@test "rails: mnohub.scope skips schema_migrations and ar_internal_metadata of a Rails mnohub database" {
  u=$(pg_newdb rails_mnohub)
  psql -X -q -v ON_ERROR_STOP=1 -d "$u" -f "$MNO_TOP/tests/fixtures/mnohub.sql"
  q "$u" "CREATE TABLE schema_migrations (version character varying NOT NULL);
          CREATE UNIQUE INDEX unique_schema_migrations ON schema_migrations (version);
          INSERT INTO schema_migrations VALUES ('20160101000000');
          CREATE TABLE ar_internal_metadata (key character varying PRIMARY KEY, value character varying,
            created_at timestamp NOT NULL, updated_at timestamp NOT NULL)" >/dev/null
  run mno-dump --source "$u" --scope "$MNO_TOP/filters/mnohub.scope" --all -o hub.mnoa
  [ "$status" -eq 0 ]
  ! mno-cat --list hub.mnoa | grep -q -e schema_migrations -e ar_internal_metadata
}
