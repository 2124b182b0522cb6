-- conn-leaks.sql: the archived connector rows (temp table arch(tb, id)) that are not the
-- tenant's (psql -v t=NAME): organizations and users by their tenant column (exactly), the
-- other tables by every organization and user they name. Prints "TABLE<TAB>ID<TAB>WHY".
\set ON_ERROR_STOP 1
SELECT * FROM (
  SELECT 'organizations' AS tb, x.id, 'tenant ' || coalesce(quote_literal(x.tenant), 'NULL') AS why FROM arch a
    JOIN organizations x ON a.tb = 'organizations' AND x.id = a.id WHERE x.tenant IS DISTINCT FROM :'t'
  UNION ALL SELECT 'users', x.id, 'tenant ' || coalesce(quote_literal(x.tenant), 'NULL') FROM arch a
    JOIN users x ON a.tb = 'users' AND x.id = a.id WHERE x.tenant IS DISTINCT FROM :'t'
  UNION ALL SELECT 'user_organization_rels', x.id, 'organization or user' FROM arch a
    JOIN user_organization_rels x ON a.tb = 'user_organization_rels' AND x.id = a.id
    LEFT JOIN organizations o ON o.id = x.organization_id LEFT JOIN users u ON u.id = x.user_id
    WHERE o.tenant IS DISTINCT FROM :'t' OR u.tenant IS DISTINCT FROM :'t'
  UNION ALL SELECT 'id_maps', x.id, 'organization' FROM arch a JOIN id_maps x ON a.tb = 'id_maps' AND x.id = a.id
    LEFT JOIN organizations o ON o.id = x.organization_id WHERE o.tenant IS DISTINCT FROM :'t'
  UNION ALL SELECT 'synchronizations', x.id, 'organization' FROM arch a JOIN synchronizations x ON a.tb = 'synchronizations' AND x.id = a.id
    LEFT JOIN organizations o ON o.id = x.organization_id WHERE o.tenant IS DISTINCT FROM :'t'
) v ORDER BY 1, 2;
