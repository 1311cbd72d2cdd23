import { Controller, DefaultValuePipe, Get, Param, ParseIntPipe, Post, Query } from '@nestjs/common';
import { ReportsService } from './reports.service';

@Controller('reports')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  /** Builds report `id`; a second call while one is running waits up to 2 s, then answers 409. */
  @Post(':id')
  build(@Param('id') id: string, @Query('seconds', new DefaultValuePipe(3), ParseIntPipe) seconds: number) {
    return this.reports.build(id, seconds);
  }

  @Post(':id/archive')
  archive(@Param('id') id: string) {
    return this.reports.archive(id);
  }

  @Get(':id/preview')
  preview(@Param('id') id: string) {
    return this.reports.preview(id);
  }

  @Post(':id/export')
  export(@Param('id') id: string) {
    return this.reports.export(id);
  }

  @Get(':id')
  status(@Param('id') id: string) {
    return this.reports.status(id);
  }
}
