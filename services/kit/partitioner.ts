import { murmur2 } from './kafkajs';

/**
 * The partition a key lands in with the Java client's default partitioner (and kafkajs 2's):
 * positive murmur2 of the key bytes, modulo the partition count. Services use it to find the
 * partition, and so the Redis hash tag, of a customer outside a consumed record.
 */
export function partitionOf(key: string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
