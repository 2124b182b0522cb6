-- hub-leaks.sql: the archived MnoHub rows (temp table arch(tb, id), filled before this runs)
-- that are not the tenant's (psql -v t=NAME): every link of every row is followed to the
-- row it names, which must be the tenant's (a NULL link names nothing). Prints "TABLE<TAB>ID<TAB>WHY".
\set ON_ERROR_STOP 1
CREATE TEMP TABLE mine_org AS SELECT o.id, o.uid FROM organizations o JOIN tenants t ON t.id = o.mnoe_tenant_id WHERE t.name = :'t';
CREATE TEMP TABLE mine_usr AS SELECT u.id FROM users u JOIN tenants t ON t.id = u.mnoe_tenant_id WHERE t.name = :'t';
CREATE TEMP TABLE mine_ai AS SELECT id FROM app_instances WHERE owner_type = 'Organization' AND owner_id IN (SELECT id FROM mine_org);
CREATE TEMP TABLE mine_inv AS SELECT i.id FROM invoices i JOIN tenants t ON t.id = i.mnoe_tenant_id WHERE t.name = :'t';
CREATE TEMP TABLE a AS SELECT tb, id FROM arch;
SELECT * FROM (
  SELECT 'tenants' AS tb, x.id, 'name' AS why FROM a JOIN tenants x ON a.tb = 'tenants' AND x.id = a.id WHERE x.name IS DISTINCT FROM :'t'
  UNION ALL SELECT 'sub_tenants', x.id, 'tenant' FROM a JOIN sub_tenants x ON a.tb = 'sub_tenants' AND x.id = a.id
    WHERE x.mnoe_tenant_id IS DISTINCT FROM (SELECT id FROM tenants WHERE name = :'t')
  UNION ALL SELECT 'users', x.id, 'tenant' FROM a JOIN users x ON a.tb = 'users' AND x.id = a.id WHERE x.id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'organizations', x.id, 'tenant' FROM a JOIN organizations x ON a.tb = 'organizations' AND x.id = a.id WHERE x.id NOT IN (SELECT id FROM mine_org)
  UNION ALL SELECT 'invoices', x.id, 'tenant' FROM a JOIN invoices x ON a.tb = 'invoices' AND x.id = a.id WHERE x.id NOT IN (SELECT id FROM mine_inv)
  UNION ALL SELECT 'orga_relations', x.id, 'organization or user' FROM a JOIN orga_relations x ON a.tb = 'orga_relations' AND x.id = a.id
    WHERE x.organization_id NOT IN (SELECT id FROM mine_org) OR x.user_id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'teams', x.id, 'organization' FROM a JOIN teams x ON a.tb = 'teams' AND x.id = a.id WHERE x.organization_id NOT IN (SELECT id FROM mine_org)
  UNION ALL SELECT 'org_invites', x.id, 'organization, user or referrer' FROM a JOIN org_invites x ON a.tb = 'org_invites' AND x.id = a.id
    WHERE x.organization_id NOT IN (SELECT id FROM mine_org) OR x.user_id NOT IN (SELECT id FROM mine_usr) OR x.referrer_id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'subscriptions', x.id, 'organization or user' FROM a JOIN subscriptions x ON a.tb = 'subscriptions' AND x.id = a.id
    WHERE x.organization_id NOT IN (SELECT id FROM mine_org) OR x.user_id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'identities', x.id, 'user' FROM a JOIN identities x ON a.tb = 'identities' AND x.id = a.id WHERE x.user_id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'audit_events', x.id, 'organization or user' FROM a JOIN audit_events x ON a.tb = 'audit_events' AND x.id = a.id
    WHERE x.organization_id NOT IN (SELECT id FROM mine_org) OR x.user_id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'app_instances', x.id, 'owner' FROM a JOIN app_instances x ON a.tb = 'app_instances' AND x.id = a.id WHERE x.id NOT IN (SELECT id FROM mine_ai)
  UNION ALL SELECT 'credit_cards', x.id, 'owner or user' FROM a JOIN credit_cards x ON a.tb = 'credit_cards' AND x.id = a.id
    WHERE NOT ((x.owner_type = 'Organization' AND x.owner_id IN (SELECT id FROM mine_org)) OR (x.owner_type = 'User' AND x.owner_id IN (SELECT id FROM mine_usr)))
       OR x.user_id NOT IN (SELECT id FROM mine_usr)
  UNION ALL SELECT 'deletion_requests', x.id, 'deletable' FROM a JOIN deletion_requests x ON a.tb = 'deletion_requests' AND x.id = a.id
    WHERE NOT ((x.deletable_type = 'Organization' AND x.deletable_id IN (SELECT id FROM mine_org)) OR (x.deletable_type = 'User' AND x.deletable_id IN (SELECT id FROM mine_usr)))
  UNION ALL SELECT 'bills', x.id, 'invoice or billable' FROM a JOIN bills x ON a.tb = 'bills' AND x.id = a.id
    WHERE x.invoice_id NOT IN (SELECT id FROM mine_inv) OR (x.billable_type = 'AppInstance' AND x.billable_id NOT IN (SELECT id FROM mine_ai))
  UNION ALL SELECT 'dashboards', x.id, 'owner or organization uid' FROM a JOIN dashboards x ON a.tb = 'dashboards' AND x.id = a.id
    WHERE (x.owner_type = 'Organization' AND x.owner_id NOT IN (SELECT id FROM mine_org))
       OR (x.owner_type = 'User' AND x.owner_id NOT IN (SELECT id FROM mine_usr))
       OR EXISTS (SELECT 1 FROM regexp_split_to_table(x.organization_ids, '[^A-Za-z0-9_-]+') tok
                  WHERE tok LIKE 'org-%' AND tok IN (SELECT uid FROM organizations) AND tok NOT IN (SELECT uid FROM mine_org))
  UNION ALL SELECT 'widgets', x.id, 'dashboard or organization uid' FROM a JOIN widgets x ON a.tb = 'widgets' AND x.id = a.id
    WHERE x.dashboard_id NOT IN (SELECT id FROM a WHERE tb = 'dashboards')
       OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(CASE jsonb_typeof(x.settings::jsonb -> 'organization_ids') WHEN 'array'
                  THEN x.settings::jsonb -> 'organization_ids' ELSE '[]' END) u WHERE u IN (SELECT uid FROM organizations) AND u NOT IN (SELECT uid FROM mine_org))
) v ORDER BY 1, 2;
