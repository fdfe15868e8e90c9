# switchboard: Node 20 on Debian bookworm (glibc 2.36, which the uWebSockets.js binaries need).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# the client workspace is part of the lockfile
COPY client/package.json client/
RUN npm ci --omit=dev
COPY . .
EXPOSE 5001 5002
USER node
CMD ["node", "--import=tsx", "server.ts"]
