/// The methods every protocol runs, in the order they run (cheap ones first, so a bad α grid
/// fails before PinnerFormer trains). Reports order rows by `RowIdentity.order`, not by this list.
/// A new method: one file with its type, one line here.
public enum MethodRegistry {
  /// The methods for `config` under `evaluationProtocol` (PinnerFormer with its model, training
  /// and inference mode, and with per-pin biases (`model.pinBias`) beside it; the leave-one-out
  /// adds PinnerFormer trained on SASRec's next-item objective, what RecBole's SASRec trains).
  @Sendable public static func methods(for config: ExperimentConfig, _ evaluationProtocol: EvaluationProtocol)
    -> [any EvaluatedMethod]
  {
    var sasRec = config.training
    sasRec.objective = .sasRec
    let alsoSASRec = evaluationProtocol == .leaveOneOut && config.training.objective != .sasRec
    // Issue #29's option that won on validation users (seed 1 of world v3: Recall@10 0.052 against
    // 0.046 at the 2,000-step cap): per-pin score biases, beside the paper's model.
    var withBiases = config.model
    withBiases.pinBias = true
    return [
      CeilingMethod(),
      SingleVectorReferenceMethod(),
      PopularMethod(),
      OwnTopPinsMethod(),
      TopicPopularMethod(),
      CoEngagementMethod(),
      LastPinMethod(),
      DecayedAverageMethod(),
      PinnerSageMethod(),
      PinnerFormerMethod(model: config.model, training: config.training, inference: [config.inference]),
    ]
      + (config.model.pinBias
        ? []
        : [
          PinnerFormerMethod(
            model: withBiases, training: config.training, inference: [.once], key: "pinnerFormer.pinBias")
        ])
      + (alsoSASRec
        ? [
          PinnerFormerMethod(
            model: config.model, training: sasRec, inference: [.once], key: "pinnerFormer.sasRec")
        ]
        : [])
  }
}

extension RowIdentity {
  /// The identity today's methods declare for a row of JSON written before rows declared one:
  /// its `kind` (the former closed list of row kinds) and its key `kind#n` (the n-th row of
  /// that kind); reports rendered from such JSON read the same.
  static func legacy(kind: String, key: String, label: String) -> RowIdentity {
    let known: [String: RowIdentity] = [
      "ceiling": CeilingMethod.row, "singleVectorReference": SingleVectorReferenceMethod.row,
      "pinnerSageSampled": PinnerSageMethod.sampled, "pinnerSageTop": PinnerSageMethod.top,
      "popular": PopularMethod.row, "lastPin": LastPinMethod.row, "decayedAverage": DecayedAverageMethod.row,
      "ownTopPins": OwnTopPinsMethod.row, "topicPopular": TopicPopularMethod.row,
      "coEngagement": CoEngagementMethod.row,
    ]
    let base: RowIdentity
    switch kind {
    case "pinnerFormer": base = RowIdentity(key: key, shortName: "PinnerFormer", order: 20)
    // The method made the 5-cluster oracle first, then the 20-cluster one.
    case "pinnerSageOracle": base = PinnerSageMethod.oracle(key.hasSuffix("#0") ? 5 : 20)
    case "ablationVariant": base = RowIdentity(key: key, shortName: label, order: 110, roles: [.variant])
    default: base = known[kind] ?? RowIdentity(key: key, shortName: kind, order: Int.max)
    }
    return RowIdentity(key: key, shortName: base.shortName, order: base.order, roles: base.roles)
  }
}
