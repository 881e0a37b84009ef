/// The methods of the comparison, in the order they run (cheap ones first, so a bad α grid
/// fails before PinnerFormer trains). Reports order rows by `MethodKind`, not by this list.
/// A new method: one file with its type, one line here.
public enum MethodRegistry {
  /// The comparison's methods for `config` (PinnerFormer with its model, training and inference mode).
  public static func methods(for config: ExperimentConfig) -> [any EvaluatedMethod] {
    [
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
  }
}
