// A CommonJS consumer app (Nest 11): the package as a user installs it, imported by name.
require('reflect-metadata');
const { Controller, Module, Post, Param } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');
const { LockModule, LockService, Locked, LockNotAcquiredError } = require('nest-lock');
const { runChecks } = require('./checks.cjs');

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
Module({ imports: [LockModule.forRoot({ redis: process.env.REDIS_URL, prefix: `compat-cjs-${process.pid}:` })], controllers: [OrdersController] })(AppModule);

runChecks({ NestFactory, AppModule, LockService, LockNotAcquiredError }).catch((error) => {
  console.error(error);
  process.exit(1);
});
