# switchboard: Node 20 on Debian bookworm (glibc 2.36, which the uWebSockets.js binaries need).
# Build stage: every dependency, then `npm run build` compiles to dist/ with tsc.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY client/package.json client/
RUN npm ci
COPY . .
RUN npm run build

# Run stage: production dependencies only (no TypeScript, no transpiler) and the compiled server.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
COPY client/package.json client/
RUN npm ci --omit=dev
COPY --from=build /app/dist ./dist
EXPOSE 5001 5002
USER node
CMD ["node", "dist/server.js"]
