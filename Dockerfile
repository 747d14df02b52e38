# syntax=docker/dockerfile:1
# One image for every Kairos service and tool; the first argument chooses which:
#   docker build -t kairos .
#   docker run --rm kairos segmenter            (segmenter, trigger, renderer, tracker, recommender, results, console)
#   docker run --rm kairos tool provision       (any of services/tools: provision, state, campaigns, results, produce, tap)
# Untested here (no Docker engine on the machines this project is built on); test/unit/deploy
# checks it against the build. docs/deployment.md, "Image".
ARG NODE_IMAGE=node:24-bookworm-slim

# 1. Compile, and copy what the services read at run time beside the code (npm run build).
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY infra/dist-assets.js infra/
COPY schemas schemas
COPY config config
COPY services services
RUN npx tsc -p tsconfig.build.json && node infra/dist-assets.js

# 2. The production dependencies only, from the same lockfile.
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# 3. The runtime: the build output and its node_modules under /app, run by the image's
#    unprivileged `node` user (uid 1000). The files belong to root, so the process cannot
#    change its own code; it writes nothing to disk (logs go to stdout).
FROM ${NODE_IMAGE}
ENV KAFKAJS_NO_PARTITIONER_WARNING=1
WORKDIR /app
COPY --from=deps /src/node_modules node_modules
COPY --from=build /src/dist/services services
COPY --from=build /src/dist/schemas schemas
# The default data files: config/segments.yaml, ... resolve against the working directory
# (/app). Mount your own elsewhere and point SEGMENTS_FILE, TRIGGER_RULES_FILE, CAMPAIGNS_FILE,
# TEMPLATES_DIR at them (the Kubernetes manifests mount a ConfigMap at /etc/kairos).
COPY --from=build /src/dist/config config
COPY infra/image/kairos kairos
USER node
# The services' default ports: console 8090, segmenter 8091, trigger 8092, renderer 8093,
# tracker 8094, recommender 8095, results 8096 (HTTP_PORT moves them).
EXPOSE 8090 8091 8092 8093 8094 8095 8096
ENTRYPOINT ["/app/kairos"]
CMD ["help"]
