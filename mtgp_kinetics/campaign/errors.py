"""Errors of the campaign store."""

from __future__ import annotations

from mtgp_kinetics.errors import InputDataError, MtgpError


class CampaignStoreError(MtgpError):
    """A campaign database is missing, is not a campaign database, has an unknown schema or failed.

    The message names the file and says what to do.
    """


class CampaignBusyError(CampaignStoreError):
    """Another process held the campaign database's write lock longer than the busy timeout.

    Nothing was written; the same call can simply be tried again.
    """


class SuggestionConflict(CampaignStoreError):
    """Another process added suggestions while a batch was being chosen; nothing was recorded.

    :meth:`~mtgp_kinetics.campaign.Campaign.suggest` chooses again with those as pending
    experiments, so two processes asking at once never get the same experiment.
    """


class CostBudgetSpent(InputDataError):
    """What is left of a cost budget does not pay for one more measurement.

    :meth:`~mtgp_kinetics.campaign.Campaign.suggest` raises it for a ``max_cost`` (or, after another
    process recorded suggestions meanwhile, for what is left of it) below the cheapest next
    suggestion; :meth:`~mtgp_kinetics.campaign.Campaign.run` stops on it (reason ``"cost"``).
    """


class PoolExhausted(InputDataError):
    """Fewer candidates (pool rows or (condition, task) pairs) are left than the batch asks for.

    :meth:`~mtgp_kinetics.campaign.Campaign.run` stops on it (reason ``"pool_exhausted"``);
    :meth:`~mtgp_kinetics.campaign.Campaign.suggest` raises it, naming how many are left.
    """
