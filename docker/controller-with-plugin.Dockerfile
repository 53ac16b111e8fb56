# The Argo Rollouts controller with the agent-canary-gate metric-provider plugin.
#
# Why a custom image: the stock controller image is FROM gcr.io/distroless/static-debian12 (no
# shell, no libc, no Node.js), and Argo executes a metric plugin inside the controller's own
# container. This image keeps the official controller binary unchanged and adds what the
# plugin needs: Node.js 22 LTS (distroless, still no shell or package manager), /usr/bin/env for
# the plugin's `#!/usr/bin/env node` line, and the bundled plugin at the path the ConfigMap in
# plugin-manifests/argo-rollouts-config.yaml names.
#
# If you would rather not run a custom controller image, use the built-in `web` provider
# against the gate service instead (analysis-templates/, docs/plugin.md "Plugin or web
# provider?"): same verdicts, no image to maintain.
#
# Build from the repository root:
#   docker build -f docker/controller-with-plugin.Dockerfile -t registry.example/argo-rollouts-acg:v1.9.1 .
# then set the controller Deployment's image to it and add the ConfigMap entry.
# CI does not build this image (it has no container runtime); test/plugin/manifests.test.ts
# checks that it puts the plugin where the ConfigMap's location points.

ARG ARGO_ROLLOUTS_VERSION=v1.9.1

# 1. Bundle the plugin (npm run build:plugin does the same into dist-plugin/).
FROM node:22-bookworm-slim AS plugin
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: skips `prepare` (the service build, not needed here); esbuild's binary
# comes from its platform package, not from its install script.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts ./scripts
RUN npx tsx scripts/build-plugin.ts /out \
 && mkdir -p /home-skel/plugins \
 && cp /out/agent-canary-gate-plugin /home-skel/plugins/agent-canary-gate \
 && sha256sum /home-skel/plugins/agent-canary-gate

# 2. The official controller binary, unchanged.
FROM quay.io/argoproj/argo-rollouts:${ARGO_ROLLOUTS_VERSION} AS controller

# 3. /usr/bin/env (coreutils; needs only libc, which the nodejs distroless image has).
FROM debian:bookworm-slim AS env

# 4. Distroless Node.js 22 as the base; the controller is a static Go binary and runs anywhere.
FROM gcr.io/distroless/nodejs22-debian12:nonroot
COPY --from=controller /bin/rollouts-controller /bin/rollouts-controller
COPY --from=env /usr/bin/env /usr/bin/env
# The controller's home: Argo copies plugins into plugin-bin/ here, so it must be writable by
# the controller's user (999, as in the official image).
COPY --from=plugin --chown=999:999 /home-skel /home/argo-rollouts
ENV PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 999
WORKDIR /home/argo-rollouts
ENTRYPOINT ["/bin/rollouts-controller"]
