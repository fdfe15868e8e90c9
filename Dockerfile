# switchboard: Node 20 on Debian bookworm (glibc 2.36, which the uWebSockets.js binaries need).
# Build stage: every dependency, then `npm run build` (scripts/build.ts) writes dist/: the server
# compiled by tsc, the demo page, and its client bundle (public/client.js).
# --ignore-scripts: no package script runs before the sources are copied (the client workspace
# builds its package only when packed, by `prepack`).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY client/package.json client/
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build

# Run stage: production dependencies only (no TypeScript, no transpiler, no bundler) and the build.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY client/package.json client/
RUN npm ci --omit=dev --ignore-scripts
COPY --from=build /app/dist ./dist
EXPOSE 5001 5002
USER node
CMD ["node", "dist/server.js"]
