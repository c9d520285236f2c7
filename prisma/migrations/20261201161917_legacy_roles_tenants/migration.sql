-- AlterTable
ALTER TABLE "grant_revocations" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'revoke';

-- AlterTable
ALTER TABLE "local_users" ADD COLUMN     "roles" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "tenants" JSONB NOT NULL DEFAULT '[]';

-- AlterTable
ALTER TABLE "user_links" ADD COLUMN     "active" BOOLEAN NOT NULL DEFAULT true,
ADD COLUMN     "check_claimed_at" TIMESTAMP(3),
ADD COLUMN     "checked_at" TIMESTAMP(3),
ADD COLUMN     "roles" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "tenants" JSONB NOT NULL DEFAULT '[]';

-- CreateIndex
CREATE INDEX "user_links_checked_at_idx" ON "user_links"("checked_at");
