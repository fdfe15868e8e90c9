// Placeholder until the kafkajs implementation lands (issue 3).
import type { FastifyBaseLogger } from 'fastify'
import type { BusOptions, EventBus } from './bus.ts'

export interface KafkaBusOptions extends BusOptions { brokers: string[], clientId: string, logger: FastifyBaseLogger }

export function createKafkaBus (_options: KafkaBusOptions): EventBus {
  throw new Error('KAFKA_BROKERS is set but the Kafka event bus is not built yet')
}
