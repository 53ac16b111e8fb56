/**
 * OpenAPI document from the routes' TypeBox schemas (@fastify/swagger), served at
 * /openapi.json. Registered before the routes, or they would be missing from it. OpenAPI 3.1,
 * because the schemas use JSON Schema's `type: null` for absent arms and bounds.
 * @see https://github.com/fastify/fastify-swagger
 */
import fastifySwagger from '@fastify/swagger'
import type { FastifyInstance } from 'fastify'

export async function registerSwagger (app: FastifyInstance, version: string): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'agent-canary-gate',
        description: 'Promotion gate for AI agents rolled out with Argo Rollouts and governed by Cordum.',
        version,
      },
      tags: [
        { name: 'score', description: 'the gate\'s verdict for a canary at a stage' },
        { name: 'policy', description: 'the loaded gates policy' },
        { name: 'probes', description: 'liveness and readiness' },
        { name: 'evidence', description: 'decision records: what the gate answered and why, hash-chained per tenant' },
      ],
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'only when GATE_API_KEYS is set' },
          bearer: { type: 'http', scheme: 'bearer', description: 'the same key as Authorization: Bearer' },
        },
      },
    },
  })
}

export function registerOpenApiRoute (app: FastifyInstance): void {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger())
}
