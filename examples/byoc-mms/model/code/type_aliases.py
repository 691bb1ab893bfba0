"""Names for the ids and scores the recommender passes around."""

UserId = str
ContentId = str
PreferenceScore = float
