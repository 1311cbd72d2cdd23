import type { INestMicroservice, ModuleMetadata } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { freePort } from './redis-server';

/** A Nest microservice listening on TCP on a free port, and a client connected to it. */
export interface TcpMicroservice {
  service: INestMicroservice;
  client: ClientProxy;
  /** Closes the client and the microservice. */
  close(): Promise<void>;
}

/**
 * Boots a TCP microservice from the module metadata and connects a client to it.
 * @param metadata imports, controllers and providers of the test module
 */
export async function startTcpMicroservice(metadata: ModuleMetadata): Promise<TcpMicroservice> {
  const port = await freePort();
  const moduleRef = await Test.createTestingModule(metadata).compile();
  const service = moduleRef.createNestMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port }, logger: false });
  await service.listen();
  const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  await client.connect();
  return {
    service,
    client,
    close: async () => {
      client.close();
      await service.close();
    },
  };
}
