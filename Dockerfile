# connect-bridge, the production image (the bridge only; PostgreSQL runs beside it, see compose.yaml).
#
#   DOCKER_BUILDKIT=1 docker build [--build-arg BASE_IMAGE=node:24-slim] \
#     [--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt] -t connect-bridge .
#   docker run --rm --env-file .env.production connect-bridge npm run db:migrate:prod
#   docker run -d -p 3000:3000 --env-file .env.production connect-bridge
#
# BASE_IMAGE: any glibc image with Node >= 24.9 and npm on PATH (default: the official node:24-slim;
# scripts/container-base.sh builds a stand-in where no image registry is reachable).
# The `ca` secret: a PEM bundle npm trusts while packages are installed (e.g. the CA of a TLS-
# inspecting proxy). It is mounted into those two RUN steps only and never lands in a layer.
# BuildKit is required (RUN --mount). There is deliberately no "# syntax=" line: the frontend built
# into Docker 20.10+ knows RUN --mount, and a syntax line makes BuildKit pull its frontend image.

ARG BASE_IMAGE=node:24-slim

# --- build: all dependencies, the Prisma client generated into src/generated, TypeScript compiled to dist/
FROM ${BASE_IMAGE} AS build
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json .npmrc ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma.config.ts ./
COPY prisma/schema.prisma prisma/
# --ignore-scripts: no dependency needs its install script to build (the Prisma CLI's would try to
# download engines that `prisma generate` does not use); our own postinstall generates the client.
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.npm \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi && \
    npm ci --ignore-scripts --loglevel=error && \
    npm run --silent postinstall
COPY tsconfig.json tsconfig.build.json ./
COPY emulator ./emulator
COPY src ./src
RUN npm run --silent build && find dist -name '*.map' -delete

# --- runtime: production dependencies, the compiled service, the migrations; no TypeScript, no Prisma CLI
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false
# V8's heap sized for a 256 MiB container: young generation 8 MB a semi-space, old generation at
# most 128 MB (the instance's live heap is ~45 MB; with Node's defaults its RSS climbs to ~450 MB
# under sustained load, with these it stays near 220 MB: docs/operations.md, "Memory"). For a larger
# limit, raise --max-old-space-size with it (run -e NODE_OPTIONS=...). bench/ reads this line.
ENV NODE_OPTIONS="--max-semi-space-size=8 --max-old-space-size=128"
WORKDIR /app
# The official Node images have the user `node` (uid 1000); other bases get it here.
RUN id -u node >/dev/null 2>&1 || useradd --uid 1000 --user-group --create-home --shell /bin/sh node
COPY package.json package-lock.json .npmrc ./
# --legacy-peer-deps: with peer dependencies counted, `npm ci --omit=dev` still installs the Prisma
# CLI and TypeScript (optional peers of @prisma/client, and our devDependencies): 430 MB instead of
# 185 MB. No production package has an install script, and the client was generated at build time.
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.npm \
    if [ -s /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi && \
    npm ci --omit=dev --legacy-peer-deps --ignore-scripts --loglevel=error
# prisma/: migrations and schema, read by `npm run db:migrate:prod` (and DATABASE_AUTO_MIGRATE=true).
COPY prisma ./prisma
COPY --from=build /app/dist ./dist
# The embedded PGlite database (no DATABASE_URL; refused in production unless
# ALLOW_EMBEDDED_DATABASE_IN_PRODUCTION=true) writes .data/; mount a volume there to keep it.
RUN mkdir -p .data && chown node:node .data
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
