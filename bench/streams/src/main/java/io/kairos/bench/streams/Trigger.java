package io.kairos.bench.streams;

import java.util.LinkedHashMap;
import java.util.Map;

/** One TriggerFired, as services/core/triggers/kinds.ts ruleFiring() builds it. */
final class Trigger {
  final String triggerId;
  final String rule;
  final String customerId;
  final long firedAt;
  final String causeEventId;
  final Map<String, String> context;

  Trigger(String rule, String customerId, String causeEventId, long firedAt, LinkedHashMap<String, String> context) {
    this.triggerId = Engine.triggerId(rule, customerId, causeEventId);
    this.rule = rule;
    this.customerId = customerId;
    this.firedAt = firedAt;
    this.causeEventId = causeEventId;
    this.context = context;
  }
}
