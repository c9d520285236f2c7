-- CreateTable
CREATE TABLE "grants" (
    "id" TEXT NOT NULL,
    "workos_user_id" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "session_id" TEXT NOT NULL,
    "legacy_user_id" TEXT,
    "scopes" TEXT NOT NULL,
    "transaction_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMP(3),
    "revoked_by" TEXT,
    "authkit_session" TEXT,

    CONSTRAINT "grants_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "grant_cutoffs" (
    "legacy_user_id" TEXT NOT NULL,
    "revoked_before" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "grant_cutoffs_pkey" PRIMARY KEY ("legacy_user_id")
);

-- CreateTable
CREATE TABLE "grant_revocations" (
    "seq" BIGSERIAL NOT NULL,
    "grant_id" TEXT,
    "legacy_user_id" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "grant_revocations_pkey" PRIMARY KEY ("seq")
);

-- CreateTable
CREATE TABLE "access_audit" (
    "id" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "actor_detail" TEXT,
    "action" TEXT NOT NULL,
    "legacy_user_id" TEXT,
    "grant_id" TEXT,
    "count" INTEGER NOT NULL DEFAULT 0,
    "ip" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "access_audit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "grants_legacy_user_id_created_at_idx" ON "grants"("legacy_user_id", "created_at");

-- CreateIndex
CREATE UNIQUE INDEX "grants_workos_user_id_client_id_session_id_key" ON "grants"("workos_user_id", "client_id", "session_id");

-- CreateIndex
CREATE INDEX "grant_revocations_created_at_idx" ON "grant_revocations"("created_at");

-- CreateIndex
CREATE INDEX "access_audit_legacy_user_id_created_at_idx" ON "access_audit"("legacy_user_id", "created_at");

-- CreateIndex
CREATE INDEX "access_audit_created_at_idx" ON "access_audit"("created_at");
