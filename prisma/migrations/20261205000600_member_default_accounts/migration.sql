-- House accounts of default management (hand-written; a migration of their own: enum values added by the previous one must be committed before use). ccp:capital must not go negative: the
-- waterfall takes at most what it holds. ccp:default passes money through and returns to zero.
INSERT INTO "ledger_accounts" ("id", "code", "memberId", "type", "mustNotGoNegative")
SELECT gen_random_uuid(), x.code, NULL, x.type::"AccountType", x.guard
FROM (VALUES ('ccp:capital', 'CCP_CAPITAL', true), ('ccp:default', 'CCP_DEFAULT', false)) AS x(code, type, guard);

-- Every existing member gets its guarantee-fund contribution account.
INSERT INTO "ledger_accounts" ("id", "code", "memberId", "type", "mustNotGoNegative")
SELECT gen_random_uuid(), 'member:' || m.id || ':guarantee', m.id, 'GUARANTEE', true
FROM "members" m WHERE m.kind <> 'CLEARING';
