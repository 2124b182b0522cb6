-- mini.sql: a small MnoHub-like schema for 20-dump-pg.bats: every scope rule kind, declared
-- foreign keys placing an unmentioned table, edge values, two tenants (acme, globex).
CREATE TABLE tenants (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, api_secret text);
CREATE TABLE organizations (id bigserial PRIMARY KEY, uid varchar(40) NOT NULL UNIQUE, name text,
  mnoe_tenant_id bigint, account_frozen boolean NOT NULL DEFAULT false, created_at timestamptz);
CREATE TABLE users (id bigserial PRIMARY KEY, uid text NOT NULL, email text, mnoe_tenant_id bigint,
  settings jsonb, balance numeric(12,2), ratio double precision, avatar bytea, tags text[],
  born date, wake time, span interval);
CREATE UNIQUE INDEX users_uid_idx ON users (uid);
CREATE INDEX users_email_idx ON users (lower(email));
CREATE TABLE orga_relations (organization_id bigint NOT NULL, user_id bigint NOT NULL, role text,
  PRIMARY KEY (organization_id, user_id));
CREATE TABLE apps (id serial PRIMARY KEY, nid text UNIQUE, name text);
CREATE TABLE app_instances (id bigserial PRIMARY KEY, uid text, app_id int REFERENCES apps(id),
  owner_id bigint, owner_type text, CONSTRAINT ai_owner_ck CHECK (owner_type IN ('Organization', 'User')));
CREATE TABLE bills (id bigserial PRIMARY KEY, app_instance_id bigint REFERENCES app_instances(id),
  price_cents int);
CREATE TABLE dashboards (id bigserial PRIMARY KEY, name text, organization_ids text);
CREATE TABLE widgets (id bigserial PRIMARY KEY, dashboard_id bigint, settings json);
CREATE TABLE sessions (id bigserial PRIMARY KEY, data text);
CREATE TABLE events (happened_at timestamptz, organization_id bigint, payload jsonb);

INSERT INTO tenants (name, api_secret) VALUES ('acme', 'sekret-a'), ('globex', 'sekret-g');
INSERT INTO organizations (uid, name, mnoe_tenant_id, created_at) VALUES
  ('org-1', 'Acme "One", (tabs	and
newlines)', 1, '2026-01-01 10:00:00+00'),
  ('org-10', 'Globex Ten', 2, NULL),
  ('org-2', E'back\\slash ünïcødé 😀', 1, '1999-12-31 23:59:59.999999+00');
INSERT INTO users (uid, email, mnoe_tenant_id, settings, balance, ratio, avatar, tags, born, wake, span) VALUES
  ('usr-1', 'a@acme.test', 1, '{"k": [1, "x"], "n": null}', 12.50, 0.1, '\x00ff10', '{a,"b c",NULL}', '2000-02-29', '23:59:59', '1 year 2 mons -3 days'),
  ('usr-2', 'g@globex.test', 2, NULL, -1, 'NaN', NULL, '{}', 'infinity', '00:00', '0'),
  ('usr-3', '', 1, '"str"', 0, '-Infinity', '\x', NULL, NULL, NULL, NULL),
  ('usr-4', 'tab	and\nnewline', 1, '{}', 1e9, 1.0000000000000002, NULL, NULL, NULL, NULL, NULL);
INSERT INTO orga_relations VALUES (1, 1, 'Admin'), (2, 2, 'Admin'), (3, 3, 'Member'), (1, 4, NULL);
INSERT INTO apps (nid, name) VALUES ('xero', 'Xero'), ('qbo', 'QuickBooks');
INSERT INTO app_instances (uid, app_id, owner_id, owner_type) VALUES
  ('cld-1', 1, 1, 'Organization'), ('cld-2', 2, 2, 'Organization'), ('cld-3', 1, 1, 'User'),
  ('cld-4', 2, 3, 'Organization');
INSERT INTO bills (app_instance_id, price_cents) VALUES (1, 100), (2, 200), (4, 400), (NULL, 0);
INSERT INTO dashboards (name, organization_ids) VALUES ('d-acme', '--- [org-1, org-2]'),
  ('d-globex', '["org-10"]'), ('d-none', NULL), ('d-prefix', 'org-1x');
INSERT INTO widgets (dashboard_id, settings) VALUES (1, '{"organization_ids": ["org-2"]}'),
  (2, '{"organization_ids": ["org-10"]}'), (3, '{"organization_ids": "org-1"}'),
  (3, '{"organization_ids": {"org-1": 1}}'), (3, NULL);
INSERT INTO sessions (data) VALUES ('s');
INSERT INTO events VALUES ('2026-01-01', 1, '{}'), ('2026-01-01', 1, '{}'), (NULL, 2, NULL);
