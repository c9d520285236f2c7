-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "LoginTransactionStatus" AS ENUM ('pending', 'completed', 'failed', 'expired');

-- CreateEnum
CREATE TYPE "AuditOutcome" AS ENUM ('success', 'failure');

-- CreateTable
CREATE TABLE "login_transactions" (
    "id" TEXT NOT NULL,
    "external_auth_id" TEXT NOT NULL,
    "browser_binding" TEXT NOT NULL,
    "status" "LoginTransactionStatus" NOT NULL DEFAULT 'pending',
    "strategy" TEXT NOT NULL,
    "legacy_user_id" TEXT,
    "error_code" TEXT,
    "completing_at" TIMESTAMP(3),
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,
    "completed_at" TIMESTAMP(3),

    CONSTRAINT "login_transactions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "authorization_audit" (
    "id" TEXT NOT NULL,
    "transaction_id" TEXT,
    "external_auth_id_hint" TEXT,
    "legacy_user_id" TEXT,
    "email" TEXT,
    "workos_user_id" TEXT,
    "strategy" TEXT NOT NULL,
    "outcome" "AuditOutcome" NOT NULL,
    "error_code" TEXT,
    "ip" TEXT,
    "user_agent" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "authorization_audit_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_links" (
    "legacy_user_id" TEXT NOT NULL,
    "workos_user_id" TEXT,
    "email" TEXT NOT NULL,
    "first_name" TEXT,
    "last_name" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "last_login_at" TIMESTAMP(3),

    CONSTRAINT "user_links_pkey" PRIMARY KEY ("legacy_user_id")
);

-- CreateTable
CREATE TABLE "http_sessions" (
    "id_hash" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,
    "expires_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "http_sessions_pkey" PRIMARY KEY ("id_hash")
);

-- CreateTable
CREATE TABLE "local_users" (
    "id" TEXT NOT NULL,
    "email" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "first_name" TEXT,
    "last_name" TEXT,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "local_users_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "login_transactions_external_auth_id_idx" ON "login_transactions"("external_auth_id");

-- CreateIndex
CREATE INDEX "login_transactions_status_expires_at_idx" ON "login_transactions"("status", "expires_at");

-- CreateIndex
CREATE INDEX "authorization_audit_legacy_user_id_created_at_idx" ON "authorization_audit"("legacy_user_id", "created_at");

-- CreateIndex
CREATE INDEX "authorization_audit_created_at_idx" ON "authorization_audit"("created_at");

-- CreateIndex
CREATE UNIQUE INDEX "user_links_workos_user_id_key" ON "user_links"("workos_user_id");

-- CreateIndex
CREATE INDEX "http_sessions_expires_at_idx" ON "http_sessions"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "local_users_email_key" ON "local_users"("email");
