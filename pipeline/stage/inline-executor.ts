/**
 * Runs tasks on the calling thread through handlers given by the caller: for engines that cannot leave
 * the main thread (tfjs reference engine, one multi-threaded ONNX session) and for tests.
 */
import { ConfigError } from '../errors.ts';
import type { TaskExecutor, TaskKind, TaskPayload, TaskResult } from '../tasks.ts';

export type InlineHandlers = { [K in TaskKind]?: (payload: TaskPayload<K>) => Promise<TaskResult<K>> };

export function inlineExecutor(
  handlers: InlineHandlers,
  options: { size?: number; close?: () => Promise<void> } = {},
): TaskExecutor {
  return {
    size: options.size ?? 1,
    run<K extends TaskKind>(kind: K, payload: TaskPayload<K>): Promise<TaskResult<K>> {
      const handler = handlers[kind] as ((p: TaskPayload<K>) => Promise<TaskResult<K>>) | undefined;
      if (!handler) return Promise.reject(new ConfigError(`no inline handler for task '${kind}'`));
      return handler(payload);
    },
    close: options.close ?? (async () => {}),
  };
}
