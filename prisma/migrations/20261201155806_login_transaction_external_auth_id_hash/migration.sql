-- A login transaction keeps its external_auth_id only while its flow is open. Once the flow has
-- ended (completed, failed, expired) only the SHA-256 remains, which is enough to refuse a replay.

-- DropIndex
DROP INDEX "login_transactions_external_auth_id_idx";

-- AlterTable (the hash of existing rows is computed before the column becomes required)
ALTER TABLE "login_transactions" ADD COLUMN     "external_auth_id_hash" TEXT,
ALTER COLUMN "external_auth_id" DROP NOT NULL;

UPDATE "login_transactions"
SET "external_auth_id_hash" = encode(sha256(convert_to("external_auth_id", 'UTF8')), 'hex');

ALTER TABLE "login_transactions" ALTER COLUMN "external_auth_id_hash" SET NOT NULL;

-- Flows that have ended keep the hash only.
UPDATE "login_transactions" SET "external_auth_id" = NULL WHERE "status" <> 'pending';

-- CreateIndex
CREATE INDEX "login_transactions_external_auth_id_hash_idx" ON "login_transactions"("external_auth_id_hash");
