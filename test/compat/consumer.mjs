// An ES module consumer app (Nest 12 is ESM-only): the package as a user installs it, imported by name.
import 'reflect-metadata';
import { Controller, Module, Post, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { LockModule, LockService, Locked, LockNotAcquiredError } from 'nest-lock';
import checks from './checks.cjs';

class OrdersController {
  constructor(locks) {
    this.locks = locks;
  }
  async confirm(id) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    return { key: this.locks.current().keys[0] };
  }
}
Reflect.defineMetadata('design:paramtypes', [LockService], OrdersController);
const confirm = Object.getOwnPropertyDescriptor(OrdersController.prototype, 'confirm');
Reflect.decorate([Post(':id/confirm'), Locked('order:{0}', { waitTimeout: 0 })], OrdersController.prototype, 'confirm', confirm);
Object.defineProperty(OrdersController.prototype, 'confirm', confirm);
Param('id')(OrdersController.prototype, 'confirm', 0);
Controller('orders')(OrdersController);

class AppModule {}
Module({ imports: [LockModule.forRoot({ redis: process.env.REDIS_URL, prefix: `compat-esm-${process.pid}:` })], controllers: [OrdersController] })(AppModule);

await checks.runChecks({ NestFactory, AppModule, LockService, LockNotAcquiredError });
